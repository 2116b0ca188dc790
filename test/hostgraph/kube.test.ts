// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The host graph linked to the Kubernetes graph built from a real kube-apiserver: the host's
// graph is published before the controller syncs, the Node arrives through the store, the host is
// linked to it, and a pod can be followed to the disks and NICs of the machine under it.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { createHostGraphComponent, type HostGraphComponent } from "../../src/hostgraph/index.ts";
import { loadKubeconfig } from "../../src/kube/client/config.ts";
import { createKubeController, type KubeController } from "../../src/kube/controller.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { type ResourceRef, ResourceRefSchema } from "../../src/proto/gen/resource/v1/resource_pb.ts";
import { openStore, RelationshipsNotFoundError, type Store } from "../../src/store/index.ts";
import { type KubeTestEnv, startKubeTestEnv } from "../helpers/kube-testenv.ts";
import { api, eventually } from "../kube/fixtures.ts";
import { copyFixture } from "./helpers.ts";

let env: KubeTestEnv;
let store: Store;
let ctl: KubeController;
let hg: HostGraphComponent;
const fx = copyFixture("numa-server");
const SYS = "7d2e0b6c94a14f0f8d3a5c1e2b4f6a80";

beforeAll(async () => {
  env = await startKubeTestEnv();
  await api.node(env, "db-07", {}, "");
  await api.node(env, "other", {}, "");
  await api.pod(env, "default", "postgres-0", { node: "db-07" });
  store = openStore({ dataDirectory: "", logger: silentLogger });
  hg = createHostGraphComponent({ store, paths: fx.paths, intervalMs: 3_600_000, nodeName: "db-07", logger: silentLogger });
  await hg.start(); // before the controller: the Node is not in the store yet
  ctl = createKubeController({
    config: await loadKubeconfig([env.kubeconfigPath]),
    store,
    logger: silentLogger,
    leaderElect: false,
    nodeName: "db-07",
  });
  await ctl.start();
  await ctl.synced();
}, 120_000);

afterAll(async () => {
  await hg?.stop(AbortSignal.timeout(5000));
  await ctl?.stop(AbortSignal.timeout(10_000));
  store?.close();
  await env?.stop();
  fx.cleanup();
});

function rels(subject: ResourceRef | undefined, object: ResourceRef | undefined, predicate: string) {
  try {
    return store.getRelationships(subject, object, predicate);
  } catch (e) {
    if (e instanceof RelationshipsNotFoundError) return [];
    throw e;
  }
}

test("the host is linked to its Node once the controller has synced, and a pod leads to its host's disks and NICs", async () => {
  const sysRef = create(ResourceRefSchema, { typeUrl: "antimetal.hardware.v1.SystemNode", name: SYS });
  await eventually("host linked to its Node", () => rels(sysRef, undefined, "kubernetes.v1.RegisteredAs").length === 1);
  const node = rels(sysRef, undefined, "kubernetes.v1.RegisteredAs")[0]!.object!;
  expect(node.typeUrl).toBe("k8s.io.api.core.v1.Node");
  expect(node.name).toBe("db-07");
  expect(node.namespace?.namespace.case).toBe("kube");
  expect(rels(node, sysRef, "kubernetes.v1.Underlying").length).toBe(1);
  // not to the other Node
  expect(rels(sysRef, undefined, "kubernetes.v1.RegisteredAs").map((r) => r.object!.name)).toEqual(["db-07"]);

  // pod -> Node (kube graph) -> SystemNode (host graph) -> disks and NICs
  const pod = store.listResources([{ kind: "", type: "k8s.io.api.core.v1.Pod" } as never]).find((r) => r.metadata?.name === "postgres-0")!;
  const podRef = create(ResourceRefSchema, { typeUrl: pod.type!.type, name: pod.metadata!.name, namespace: pod.metadata!.namespace });
  const [podNode] = rels(podRef, undefined, "kubernetes.v1.ContainedBy").filter((r) => r.object!.typeUrl === "k8s.io.api.core.v1.Node");
  expect(podNode?.object?.name).toBe("db-07");
  const [host] = rels(podNode!.object, undefined, "kubernetes.v1.Underlying");
  expect(host?.object?.name).toBe(SYS);
  const under = rels(host!.object, undefined, "antimetal.hardware.v1.Contains").map((r) => r.object!.name.slice(SYS.length + 1));
  expect(under).toEqual(expect.arrayContaining(["disk-nvme0n1", "disk-sda", "net-bond0", "net-eno1", "net-eno2"]));

  // a refresh with the Node present changes nothing
  const r = await hg.refresh();
  expect([r.upserted, r.deleted, r.relationshipsAdded, r.relationshipsDeleted]).toEqual([0, 0, 0, 0]);
  expect(r.linked).toBe(true);
});
