// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Cluster provider detection against local fake metadata servers (AWS IMDSv2 + EC2 API, GCE
 * metadata server, Azure IMDS). The Kubernetes side (node providerID/labels, cluster-info) is a
 * stub client here; test/kube/controller.test.ts covers it against the real apiserver.
 */

import { afterAll, describe, expect, test } from "bun:test";
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
      return Response.json({ AccessKeyId: "AKIDROLE", SecretAccessKey: "secret", Token: "session-token" });
    }
    return new Response("", { status: 404 });
  });
}

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

  test("EKS: IMDSv2 identity for the region, ec2:DescribeInstances (SigV4, role credentials) for the cluster name", async () => {
    const imds = awsImds();
    const api = ec2([
      ["Name", "node-1"],
      ["kubernetes.io/cluster/prod-eks", "owned"],
    ]);
    const info = await detectUncached(
      opts({ client: stubClient({ providerID: "aws:///us-west-2a/i-0abc" }), endpoints: { awsImds: imds.url, ec2: api.url } }),
    );
    expect(info).toMatchObject({ provider: "eks", clusterName: "prod-eks", region: "us-west-2", source: "ec2:DescribeInstances tags" });
    const auth = api.hits[0]!.headers.get("authorization")!;
    expect(auth).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDROLE\/\d{8}\/us-west-2\/ec2\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
    expect(api.hits[0]!.headers.get("x-amz-security-token")).toBe("session-token");
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
