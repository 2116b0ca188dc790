// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Local fake cloud endpoints for provider detection tests: AWS IMDSv2, the EC2 API, GCE metadata,
 * Azure IMDS, a black hole (IMDS behind a hop limit), plus a stub Kubernetes client, SigV4 header
 * facts and a scoped AWS_* environment for the AWS SDK's credential chain.
 */

import type { KubeClient } from "../../src/kube/client/client.ts";
import type { ProviderOptions } from "../../src/kube/providers/index.ts";
import { createLogger } from "../../src/log/logger.ts";

export const logger = createLogger({ level: "error" });
const servers: Array<{ stop: (force?: boolean) => void }> = [];

/** Stops every fake server this module started (call from the test file's afterAll). */
export function stopFakeServers(): void {
  for (const s of servers.splice(0)) s.stop(true);
}

export interface Hit {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

export function fake(handler: (req: Request, hit: Hit) => Response | Promise<Response>): { url: string; hits: Hit[] } {
  const hits: Hit[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const u = new URL(req.url);
      const hit = { method: req.method, path: u.pathname + u.search, headers: req.headers, body: await req.text() };
      hits.push(hit);
      return handler(req, hit);
    },
  });
  servers.push(server);
  return { url: `http://127.0.0.1:${server.port}`, hits };
}

export function awsImds(opts: { tags?: Record<string, string> } = {}) {
  return fake((req, hit) => {
    if (hit.path === "/latest/api/token") {
      return req.method === "PUT" && req.headers.get("x-aws-ec2-metadata-token-ttl-seconds")
        ? new Response("tok-123")
        : new Response("", { status: 405 });
    }
    if (req.headers.get("x-aws-ec2-metadata-token") !== "tok-123") return new Response("", { status: 401 });
    if (hit.path === "/latest/dynamic/instance-identity/document") {
      return Response.json({ region: "us-west-2", accountId: "123456789012", instanceId: "i-0abc" });
    }
    if (hit.path === "/latest/meta-data/instance-id") return new Response("i-0abc");
    if (hit.path.startsWith("/latest/meta-data/tags/instance/")) {
      const key = decodeURIComponent(hit.path.slice("/latest/meta-data/tags/instance/".length));
      const v = opts.tags?.[key];
      return v === undefined ? new Response("", { status: 404 }) : new Response(v);
    }
    if (hit.path === "/latest/meta-data/iam/security-credentials/") return new Response("node-role\n");
    if (hit.path === "/latest/meta-data/iam/security-credentials/node-role") {
      return Response.json({
        Code: "Success",
        AccessKeyId: "AKIDROLE",
        SecretAccessKey: "secret",
        Token: "session-token",
        Expiration: inAnHour(),
      });
    }
    return new Response("", { status: 404 });
  });
}

export const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();

export function ec2(tags: Array<[string, string]>) {
  return fake((_req, hit) => {
    if (!hit.body.includes("Action=DescribeInstances") || !hit.body.includes("InstanceId.1=i-0abc"))
      return new Response("<Error/>", { status: 400 });
    const items = tags.map(([k, v]) => `<item><key>${k}</key><value>${v}</value></item>`).join("");
    return new Response(
      `<?xml version="1.0"?><DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-0abc</instanceId><tagSet>${items}</tagSet></item></instancesSet></item></reservationSet></DescribeInstancesResponse>`,
    );
  });
}

export function gce() {
  return fake((req, hit) => {
    if (req.headers.get("metadata-flavor") !== "Google") return new Response("", { status: 403 });
    const m: Record<string, string> = {
      "/computeMetadata/v1/instance/id": "42",
      "/computeMetadata/v1/instance/attributes/cluster-name": "gke-prod",
      "/computeMetadata/v1/instance/attributes/cluster-location": "europe-west4-b",
    };
    return m[hit.path] ? new Response(m[hit.path]) : new Response("", { status: 404 });
  });
}

export function azure() {
  return fake((req, hit) => {
    if (req.headers.get("metadata") !== "true" || !hit.path.startsWith("/metadata/instance")) return new Response("", { status: 400 });
    return Response.json({
      compute: {
        location: "westeurope",
        resourceGroupName: "MC_my_rg_aks-prod_westeurope",
        tagsList: [{ name: "aks-managed-cluster-name", value: "aks-prod" }],
      },
    });
  });
}

/** A server that accepts connections and never answers (IMDS behind a hop limit looks like this). */
export function blackhole(): string {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Promise<Response>(() => {}) });
  servers.push(server);
  return `http://127.0.0.1:${server.port}`;
}

/** SigV4 facts of a request the EC2 fake received. */
export function sigv4(hit: Hit) {
  const auth = hit.headers.get("authorization") ?? "";
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^,]+), SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$/.exec(auth);
  if (!m) throw new Error(`not a SigV4 authorization header: ${auth}`);
  const signed = m[3]!.split(";");
  return {
    accessKeyId: m[1],
    scope: m[2],
    signsToken: ["host", "x-amz-date", "x-amz-security-token"].every((h) => signed.includes(h)),
    securityToken: hit.headers.get("x-amz-security-token"),
  };
}

export const AWS_ENV_KEYS = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_PROFILE",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_ROLE_ARN",
  "AWS_ROLE_SESSION_NAME",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
  "AWS_EC2_METADATA_SERVICE_ENDPOINT",
  "AWS_EC2_METADATA_DISABLED",
  "AWS_CONFIG_FILE",
  "AWS_SHARED_CREDENTIALS_FILE",
];

/**
 * Runs fn with exactly these AWS_* variables (the SDK's chain reads process.env), no shared config
 * files, and the previous environment restored afterwards.
 */
const NO_FILE = "/nonexistent/antimetal-test-aws-config";

export async function withAwsEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(AWS_ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of AWS_ENV_KEYS) delete process.env[k];
  Object.assign(process.env, { AWS_CONFIG_FILE: NO_FILE, AWS_SHARED_CREDENTIALS_FILE: NO_FILE }, vars);
  try {
    return await fn();
  } finally {
    for (const k of AWS_ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

export function stubClient(node?: { providerID?: string; labels?: Record<string, string> }): KubeClient {
  return {
    server: "https://stub",
    async getJSON(p: string) {
      if (p.startsWith("/api/v1/nodes")) {
        if (!node) throw new Error("no nodes");
        const n = { spec: { providerID: node.providerID }, metadata: { labels: node.labels ?? {} } };
        return p.includes("limit") ? { items: [n] } : n;
      }
      throw new Error(`404 ${p}`);
    },
  } as unknown as KubeClient;
}

export function opts(o: Partial<ProviderOptions>): ProviderOptions {
  return { client: stubClient(), logger, env: {}, timeoutMs: 3000, probeTimeoutMs: 300, ...o };
}
