// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Cluster provider detection against local fake metadata servers (AWS IMDSv2 + EC2 API, GCE
 * metadata server, Azure IMDS). The Kubernetes side (node providerID/labels, cluster-info) is a
 * stub client here; test/kube/controller.test.ts covers it against the real apiserver, and
 * test/kube/eks-credentials.test.ts each AWS credential source.
 */

import { afterAll, describe, expect, test } from "bun:test";
import { detectUncached, providerFromNode } from "../../src/kube/providers/index.ts";
import { aksClusterFromResourceGroup, eksClusterFromTags } from "../../src/kube/providers/metadata.ts";
import { awsImds, azure, blackhole, ec2, gce, opts, sigv4, stopFakeServers, stubClient, withAwsEnv } from "./cloud-fakes.ts";

afterAll(stopFakeServers);

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
