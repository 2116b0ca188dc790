// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Cloud metadata-service readers (AWS IMDSv2 instance identity and tags, GCE metadata server,
 * Azure IMDS) for naming the cluster. Every request is bounded by a short timeout; base URLs are
 * injectable so tests run them against local fake servers. AWS credentials and the EC2 API are the
 * AWS SDK's (aws.ts), not here.
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
    this.cache.set(p, v);
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
}

/** The EC2 instance id in a node's providerID (`aws:///us-west-2a/i-0abc`), readable without IMDS. */
export function instanceIdFromProviderID(providerID: string): string | undefined {
  if (!providerID.startsWith("aws://")) return undefined;
  const last = providerID.split("/").pop() ?? "";
  return /^i-[0-9a-f]+$/.test(last) ? last : undefined;
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
