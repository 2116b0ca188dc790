// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Cloud metadata-service clients (AWS IMDSv2 + EC2 DescribeInstances, GCE metadata server, Azure
 * IMDS). Every request is bounded by a short timeout; base URLs are injectable so tests run them
 * against local fake servers.
 */

export const AWS_IMDS = "http://169.254.169.254";
export const GCE_METADATA = "http://metadata.google.internal";
export const AZURE_IMDS = "http://169.254.169.254";

async function get(url: string, headers: Record<string, string>, timeoutMs: number, method = "GET"): Promise<string> {
  const res = await fetch(url, { method, headers, signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`${method} ${url}: HTTP ${res.status}`);
  }
  return await res.text();
}

export class AwsImds {
  private token: { value: string; expires: number } | undefined;
  private cache = new Map<string, string>();

  constructor(
    readonly base = AWS_IMDS,
    private readonly timeoutMs = 1000,
  ) {}

  private async sessionToken(): Promise<string> {
    if (this.token && this.token.expires > Date.now()) return this.token.value;
    const value = await get(`${this.base}/latest/api/token`, { "x-aws-ec2-metadata-token-ttl-seconds": "21600" }, this.timeoutMs, "PUT");
    this.token = { value, expires: Date.now() + 6 * 3600_000 - 60_000 };
    return value;
  }

  async get(p: string): Promise<string> {
    const hit = this.cache.get(p);
    if (hit !== undefined) return hit;
    const v = await get(`${this.base}${p}`, { "x-aws-ec2-metadata-token": await this.sessionToken() }, this.timeoutMs);
    if (!p.includes("security-credentials/")) this.cache.set(p, v);
    return v;
  }

  async identity(): Promise<{ region: string; accountId: string; instanceId: string }> {
    const doc = JSON.parse(await this.get("/latest/dynamic/instance-identity/document")) as Record<string, string>;
    return { region: doc.region ?? "", accountId: doc.accountId ?? "", instanceId: doc.instanceId ?? "" };
  }

  /** Instance tag via IMDS (only when "instance metadata tags" are enabled on the instance). */
  async instanceTag(key: string): Promise<string> {
    return (await this.get(`/latest/meta-data/tags/instance/${encodeURIComponent(key)}`)).trim();
  }

  async roleCredentials(): Promise<AwsCredentials> {
    const role = (await this.get("/latest/meta-data/iam/security-credentials/")).split("\n")[0]!.trim();
    const c = JSON.parse(await this.get(`/latest/meta-data/iam/security-credentials/${role}`)) as Record<string, string>;
    return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.Token };
  }
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

function hmac(key: Uint8Array | string, data: string): Uint8Array {
  return new Uint8Array(new Bun.CryptoHasher("sha256", key).update(data).digest());
}

function sha256hex(data: string): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/** AWS Signature Version 4 headers for a POST of a form body. */
export function sigv4(opts: {
  creds: AwsCredentials;
  region: string;
  service: string;
  host: string;
  path: string;
  body: string;
  now?: Date;
}): Record<string, string> {
  const now = opts.now ?? new Date();
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  const date = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded; charset=utf-8",
    host: opts.host,
    "x-amz-date": amzDate,
  };
  if (opts.creds.sessionToken) headers["x-amz-security-token"] = opts.creds.sessionToken;
  const names = Object.keys(headers).sort();
  const canonical = [
    "POST",
    opts.path,
    "",
    ...names.map((n) => `${n}:${headers[n]!.trim()}`),
    "",
    names.join(";"),
    sha256hex(opts.body),
  ].join("\n");
  const scope = `${date}/${opts.region}/${opts.service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256hex(canonical)].join("\n");
  const kDate = hmac(`AWS4${opts.creds.secretAccessKey}`, date);
  const kRegion = hmac(kDate, opts.region);
  const kService = hmac(kRegion, opts.service);
  const kSigning = hmac(kService, "aws4_request");
  const signature = hex(hmac(kSigning, toSign));
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${opts.creds.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`;
  return headers;
}

/** ec2:DescribeInstances for one instance; returns its tags in document order. */
export async function describeInstanceTags(opts: {
  creds: AwsCredentials;
  region: string;
  instanceId: string;
  endpoint?: string;
  timeoutMs?: number;
}): Promise<Array<[string, string]>> {
  const endpoint = opts.endpoint ?? `https://ec2.${opts.region}.amazonaws.com`;
  const url = new URL(endpoint);
  const body = `Action=DescribeInstances&Version=2016-11-15&InstanceId.1=${encodeURIComponent(opts.instanceId)}`;
  const headers = sigv4({ creds: opts.creds, region: opts.region, service: "ec2", host: url.host, path: url.pathname || "/", body });
  const res = await fetch(endpoint, { method: "POST", headers, body, signal: AbortSignal.timeout(opts.timeoutMs ?? 3000) });
  const xml = await res.text();
  if (!res.ok) throw new Error(`ec2:DescribeInstances: HTTP ${res.status} ${/<Message>([^<]*)/.exec(xml)?.[1] ?? ""}`);
  const tagSet = /<tagSet>([\s\S]*?)<\/tagSet>/.exec(xml)?.[1] ?? "";
  const tags: Array<[string, string]> = [];
  for (const m of tagSet.matchAll(/<item>\s*<key>([^<]*)<\/key>\s*<value>([^<]*)<\/value>\s*<\/item>/g))
    tags.push([xmlText(m[1]!), xmlText(m[2]!)]);
  return tags;
}

function xmlText(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

/**
 * EKS cluster name from instance tags: aws:eks:cluster-name / eks:cluster-name first, else the
 * suffix of a kubernetes.io/cluster/<name> or k8s.io/cluster/<name> key. (The original skipped keys
 * whose value is "owned", which is what EKS sets on its nodes; we accept any value.)
 */
export function eksClusterFromTags(tags: ReadonlyArray<[string, string]>): string | undefined {
  for (const [k, v] of tags) if ((k === "aws:eks:cluster-name" || k === "eks:cluster-name") && v) return v;
  for (const [k] of tags) {
    for (const prefix of ["kubernetes.io/cluster/", "k8s.io/cluster/"]) {
      if (k.startsWith(prefix) && k.length > prefix.length) return k.slice(prefix.length);
    }
  }
  return undefined;
}

export class GceMetadata {
  constructor(
    readonly base = GCE_METADATA,
    private readonly timeoutMs = 1000,
  ) {}

  async get(p: string): Promise<string> {
    return (await get(`${this.base}/computeMetadata/v1/${p}`, { "metadata-flavor": "Google" }, this.timeoutMs)).trim();
  }
}

export interface AzureInstance {
  location: string;
  resourceGroupName: string;
  tags: Array<[string, string]>;
}

export class AzureImds {
  constructor(
    readonly base = AZURE_IMDS,
    private readonly timeoutMs = 1000,
  ) {}

  async instance(): Promise<AzureInstance> {
    const doc = JSON.parse(await get(`${this.base}/metadata/instance?api-version=2021-02-01`, { metadata: "true" }, this.timeoutMs)) as {
      compute?: { location?: string; resourceGroupName?: string; tagsList?: Array<{ name: string; value: string }> };
    };
    const c = doc.compute ?? {};
    return {
      location: c.location ?? "",
      resourceGroupName: c.resourceGroupName ?? "",
      tags: (c.tagsList ?? []).map((t) => [t.name, t.value]),
    };
  }
}

/** AKS node resource group MC_<resource-group>_<cluster>_<location> -> cluster (best effort). */
export function aksClusterFromResourceGroup(rg: string, location: string): string | undefined {
  const m = /^MC_(.+)$/i.exec(rg);
  if (!m) return undefined;
  let rest = m[1]!;
  if (location && rest.toLowerCase().endsWith(`_${location.toLowerCase()}`)) rest = rest.slice(0, -(location.length + 1));
  const i = rest.lastIndexOf("_");
  return i >= 0 ? rest.slice(i + 1) : undefined;
}
