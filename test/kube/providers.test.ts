// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Cluster provider detection against local fake metadata servers (AWS IMDSv2 + EC2 API, GCE
 * metadata server, Azure IMDS), and the EKS credential sources of the AWS SDK chain, each against
 * its own fake endpoint: environment keys, a profile, IRSA (STS AssumeRoleWithWebIdentity), EKS Pod Identity
 * (container credentials endpoint with its token file), IMDSv2 instance role. The Kubernetes side
 * (node providerID/labels, cluster-info) is a stub client here; test/kube/controller.test.ts
 * covers it against the real apiserver.
 */

import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { KubeClient } from "../../src/kube/client/client.ts";
import { detectUncached, type ProviderOptions, providerFromNode } from "../../src/kube/providers/index.ts";
import { aksClusterFromResourceGroup, eksClusterFromTags } from "../../src/kube/providers/metadata.ts";
import { createLogger } from "../../src/log/logger.ts";

const logger = createLogger({ level: "error" });
const servers: Array<{ stop: (force?: boolean) => void }> = [];

afterAll(() => {
  for (const s of servers) s.stop(true);
});

interface Hit {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

function fake(handler: (req: Request, hit: Hit) => Response | Promise<Response>): { url: string; hits: Hit[] } {
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

function awsImds(opts: { tags?: Record<string, string> } = {}) {
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

const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();

function ec2(tags: Array<[string, string]>) {
  return fake((_req, hit) => {
    if (!hit.body.includes("Action=DescribeInstances") || !hit.body.includes("InstanceId.1=i-0abc"))
      return new Response("<Error/>", { status: 400 });
    const items = tags.map(([k, v]) => `<item><key>${k}</key><value>${v}</value></item>`).join("");
    return new Response(
      `<?xml version="1.0"?><DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-0abc</instanceId><tagSet>${items}</tagSet></item></instancesSet></item></reservationSet></DescribeInstancesResponse>`,
    );
  });
}

function gce() {
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

function azure() {
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
function blackhole(): string {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Promise<Response>(() => {}) });
  servers.push(server);
  return `http://127.0.0.1:${server.port}`;
}

/** SigV4 facts of a request the EC2 fake received. */
function sigv4(hit: Hit) {
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

const AWS_ENV_KEYS = [
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
const awsDir = fs.mkdtempSync(path.join(os.tmpdir(), "eks-creds-"));
afterAll(() => fs.rmSync(awsDir, { recursive: true, force: true }));

/**
 * Runs fn with exactly these AWS_* variables (the SDK's chain reads process.env), no shared config
 * files, and the previous environment restored afterwards.
 */
async function withAwsEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(AWS_ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of AWS_ENV_KEYS) delete process.env[k];
  Object.assign(process.env, { AWS_CONFIG_FILE: path.join(awsDir, "none"), AWS_SHARED_CREDENTIALS_FILE: path.join(awsDir, "none") }, vars);
  try {
    return await fn();
  } finally {
    for (const k of AWS_ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

function stubClient(node?: { providerID?: string; labels?: Record<string, string> }): KubeClient {
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

function opts(o: Partial<ProviderOptions>): ProviderOptions {
  return { client: stubClient(), logger, env: {}, timeoutMs: 3000, probeTimeoutMs: 300, ...o };
}

describe("provider detection", () => {
  test("node providerID and labels decide the provider", () => {
    expect(providerFromNode({ providerID: "aws:///us-west-2a/i-0abc", labels: {} })).toBe("eks");
    expect(providerFromNode({ providerID: "gce://proj/europe-west4-b/vm", labels: {} })).toBe("gke");
    expect(providerFromNode({ providerID: "azure:///subscriptions/x/vm", labels: {} })).toBe("aks");
    expect(providerFromNode({ providerID: "kind://docker/kind/kind-worker", labels: {} })).toBe("kind");
    expect(providerFromNode({ providerID: "", labels: { "eks.amazonaws.com/nodegroup": "ng" } })).toBe("eks");
    expect(providerFromNode({ providerID: "", labels: { "cloud.google.com/gke-nodepool": "p" } })).toBe("gke");
    expect(providerFromNode({ providerID: "", labels: {} })).toBeUndefined();
  });

  test("EKS: IMDSv2 identity for the region, ec2:DescribeInstances (SigV4, IMDSv2 role credentials) for the cluster name", async () => {
    const imds = awsImds();
    const api = ec2([
      ["Name", "node-1"],
      ["kubernetes.io/cluster/prod-eks", "owned"],
    ]);
    const info = await withAwsEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url }, () =>
      detectUncached(
        opts({ client: stubClient({ providerID: "aws:///us-west-2a/i-0abc" }), endpoints: { awsImds: imds.url, ec2: api.url } }),
      ),
    );
    expect(info).toMatchObject({ provider: "eks", clusterName: "prod-eks", region: "us-west-2", source: "ec2:DescribeInstances tags" });
    expect(sigv4(api.hits[0]!)).toEqual({
      accessKeyId: "AKIDROLE",
      scope: "us-west-2/ec2/aws4_request",
      signsToken: true,
      securityToken: "session-token",
    });
    // the SDK's IMDS provider asked for a session token first (IMDSv2)
    const paths = imds.hits.map((h) => `${h.method} ${h.path.replace(/^\/+/, "/")}`);
    expect(paths.indexOf("PUT /latest/api/token")).toBeLessThan(paths.indexOf("GET /latest/meta-data/iam/security-credentials/node-role"));
    expect(
      eksClusterFromTags([
        ["aws:eks:cluster-name", "a"],
        ["kubernetes.io/cluster/b", "owned"],
      ]),
    ).toBe("a");
    expect(eksClusterFromTags([["k8s.io/cluster/c", "shared"]])).toBe("c");
    expect(eksClusterFromTags([["Name", "x"]])).toBeUndefined();
  });

  test("EKS: instance metadata tags answer first; flags skip discovery entirely", async () => {
    const imds = awsImds({ tags: { "aws:eks:cluster-name": "from-tags" } });
    const info = await detectUncached(
      opts({ client: stubClient({ providerID: "aws:///x/i-0abc" }), endpoints: { awsImds: imds.url, ec2: "http://127.0.0.1:9" } }),
    );
    expect(info).toMatchObject({ provider: "eks", clusterName: "from-tags", region: "us-west-2" });
    const none = awsImds();
    const flagged = await detectUncached(
      opts({ provider: "eks", eks: { clusterName: "flagged", region: "eu-north-1" }, endpoints: { awsImds: none.url } }),
    );
    expect(flagged).toMatchObject({ provider: "eks", clusterName: "flagged", region: "eu-north-1", source: "flag" });
    expect(none.hits).toHaveLength(0);
  });

  test("GKE: metadata server cluster-name and cluster-location (zone -> region)", async () => {
    const g = gce();
    const info = await detectUncached(
      opts({ client: stubClient({ providerID: "gce://p/europe-west4-b/vm" }), endpoints: { gceMetadata: g.url } }),
    );
    expect(info).toMatchObject({ provider: "gke", clusterName: "gke-prod", region: "europe-west4" });
  });

  test("AKS: Azure IMDS tag or MC_ resource group, location as region", async () => {
    const a = azure();
    const info = await detectUncached(
      opts({ client: stubClient({ providerID: "azure:///subscriptions/s/vm" }), endpoints: { azureImds: a.url } }),
    );
    expect(info).toMatchObject({ provider: "aks", clusterName: "aks-prod", region: "westeurope" });
    expect(aksClusterFromResourceGroup("MC_my_rg_aks-prod_westeurope", "westeurope")).toBe("aks-prod");
  });

  test("no node evidence: metadata services are probed in parallel, the one that answers wins", async () => {
    const g = gce();
    const info = await detectUncached(opts({ endpoints: { awsImds: blackhole(), gceMetadata: g.url, azureImds: "http://127.0.0.1:9" } }));
    expect(info.provider).toBe("gke");
  });

  test("unreachable metadata never blocks startup: time-boxed, generic fallback with an override name", async () => {
    const t0 = performance.now();
    const info = await detectUncached(
      opts({
        provider: "eks",
        env: { CLUSTER_NAME: "" },
        timeoutMs: 1500,
        probeTimeoutMs: 5000,
        endpoints: { awsImds: blackhole() },
      }),
    );
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(3000);
    expect(info).toMatchObject({ provider: "eks", clusterName: "kubernetes" });
    const named = await detectUncached(
      opts({ clusterName: "given", endpoints: { awsImds: blackhole(), gceMetadata: blackhole(), azureImds: blackhole() }, timeoutMs: 800 }),
    );
    expect(named.clusterName).toBe("given");
  });
});

describe("EKS credential sources (AWS SDK default chain), IMDS out of reach as behind a hop limit of 1", () => {
  // the pod knows its instance from the node's providerID and its region from the node label
  const node = { providerID: "aws:///us-west-2a/i-0abc", labels: { "topology.kubernetes.io/region": "us-west-2" } };
  const tags: Array<[string, string]> = [["aws:eks:cluster-name", "pod-eks"]];
  const detect = (api: { url: string }, extra: Partial<ProviderOptions> = {}) =>
    detectUncached(
      opts({ client: stubClient(node), endpoints: { awsImds: blackhole(), ec2: api.url, ...extra.endpoints }, timeoutMs: 4000 }),
    );

  test("environment keys", async () => {
    const api = ec2(tags);
    const info = await withAwsEnv(
      {
        AWS_ACCESS_KEY_ID: "AKIDENV",
        AWS_SECRET_ACCESS_KEY: "s",
        AWS_SESSION_TOKEN: "env-token",
        AWS_EC2_METADATA_SERVICE_ENDPOINT: blackhole(),
      },
      () => detect(api),
    );
    expect(info).toMatchObject({ provider: "eks", clusterName: "pod-eks", region: "us-west-2", source: "ec2:DescribeInstances tags" });
    expect(sigv4(api.hits[0]!)).toEqual({
      accessKeyId: "AKIDENV",
      scope: "us-west-2/ec2/aws4_request",
      signsToken: true,
      securityToken: "env-token",
    });
  });

  test("shared credentials file profile (AWS_PROFILE)", async () => {
    const file = path.join(awsDir, "credentials");
    fs.writeFileSync(
      file,
      "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s\n\n[agent]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\naws_session_token = profile-token\n",
    );
    const api = ec2(tags);
    const info = await withAwsEnv(
      { AWS_PROFILE: "agent", AWS_SHARED_CREDENTIALS_FILE: file, AWS_EC2_METADATA_SERVICE_ENDPOINT: blackhole() },
      () => detect(api),
    );
    expect(info).toMatchObject({ provider: "eks", clusterName: "pod-eks", source: "ec2:DescribeInstances tags" });
    expect(sigv4(api.hits[0]!)).toEqual({
      accessKeyId: "AKIDPROFILE",
      scope: "us-west-2/ec2/aws4_request",
      signsToken: true,
      securityToken: "profile-token",
    });
  });

  test("IRSA: the web identity token file is exchanged at STS (AssumeRoleWithWebIdentity)", async () => {
    const tokenFile = path.join(awsDir, "irsa-token");
    fs.writeFileSync(tokenFile, "projected-sa-jwt");
    const sts = fake((_req, hit) => {
      const form = new URLSearchParams(hit.body);
      if (
        form.get("Action") !== "AssumeRoleWithWebIdentity" ||
        form.get("WebIdentityToken") !== "projected-sa-jwt" ||
        form.get("RoleArn") !== "arn:aws:iam::123456789012:role/agent"
      ) {
        return new Response("<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>bad</Message></Error></ErrorResponse>", {
          status: 400,
        });
      }
      return new Response(
        `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>AKIDIRSA</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>irsa-token</SessionToken><Expiration>${inAnHour()}</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/agent/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`,
        { headers: { "content-type": "text/xml" } },
      );
    });
    const api = ec2(tags);
    const info = await withAwsEnv(
      {
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/agent",
        AWS_EC2_METADATA_SERVICE_ENDPOINT: blackhole(),
      },
      () => detect(api, { endpoints: { sts: sts.url } }),
    );
    expect(info).toMatchObject({ provider: "eks", clusterName: "pod-eks", source: "ec2:DescribeInstances tags" });
    expect(sts.hits).toHaveLength(1);
    expect(sigv4(api.hits[0]!)).toEqual({
      accessKeyId: "AKIDIRSA",
      scope: "us-west-2/ec2/aws4_request",
      signsToken: true,
      securityToken: "irsa-token",
    });
  });

  test("EKS Pod Identity: the agent endpoint with the token file as Authorization", async () => {
    const tokenFile = path.join(awsDir, "pod-identity-token");
    fs.writeFileSync(tokenFile, "eks-pod-identity-jwt");
    const agent = fake((req) => {
      if (req.headers.get("authorization") !== "eks-pod-identity-jwt") return new Response("", { status: 403 });
      return Response.json({
        AccessKeyId: "AKIDPOD",
        SecretAccessKey: "s",
        Token: "pod-token",
        AccountId: "123456789012",
        Expiration: inAnHour(),
      });
    });
    const api = ec2(tags);
    const info = await withAwsEnv(
      {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${agent.url}/v1/credentials`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
        AWS_EC2_METADATA_SERVICE_ENDPOINT: blackhole(),
      },
      () => detect(api),
    );
    expect(info).toMatchObject({ provider: "eks", clusterName: "pod-eks", source: "ec2:DescribeInstances tags" });
    expect(agent.hits.map((h) => h.path)).toEqual(["/v1/credentials"]);
    expect(sigv4(api.hits[0]!)).toEqual({
      accessKeyId: "AKIDPOD",
      scope: "us-west-2/ec2/aws4_request",
      signsToken: true,
      securityToken: "pod-token",
    });
  });

  test("no source answers: detection stays within its time box and falls back to generic naming", async () => {
    const api = ec2(tags);
    const t0 = performance.now();
    const info = await withAwsEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: blackhole() }, () =>
      detectUncached(
        opts({ client: stubClient(node), endpoints: { awsImds: blackhole(), ec2: api.url }, timeoutMs: 1500, probeTimeoutMs: 300 }),
      ),
    );
    expect(performance.now() - t0).toBeLessThan(3500);
    expect(info).toMatchObject({ provider: "eks", clusterName: "kubernetes", region: "us-west-2" });
    expect(api.hits).toHaveLength(0);
  });
});
