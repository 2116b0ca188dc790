// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// A Pod from a real kube-apiserver and a real container whose cgroup path carries that Pod's UID (as
// the kubelet lays it out): the runtime graph links Pod and container both ways, by UID alone (no CRI
// annotations), and drops the link with the Pod.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { createRuntimeGraphComponent, type RuntimeGraphComponent } from "../../src/containers/index.ts";
import { loadKubeconfig } from "../../src/kube/client/config.ts";
import { createKubeController, type KubeController } from "../../src/kube/controller.ts";
import { DEFAULT_HOST_PATHS } from "../../src/perf/collector.ts";
import { ResourceRefSchema } from "../../src/proto/gen/resource/v1/resource_pb.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { type KubeTestEnv, startKubeTestEnv } from "../helpers/kube-testenv.ts";
import { api, eventually } from "../kube/fixtures.ts";
import { type Containerd, startContainerd } from "./containerd.ts";
import { silentLogger } from "./helpers.ts";

let env: KubeTestEnv;
let cd: Containerd;
let store: Store;
let ctl: KubeController;
let rg: RuntimeGraphComponent;

beforeAll(async () => {
  [env, cd] = await Promise.all([startKubeTestEnv(), startContainerd()]);
  store = openStore({ dataDirectory: "", logger: silentLogger });
  ctl = createKubeController({
    config: await loadKubeconfig([env.kubeconfigPath]),
    store,
    logger: silentLogger,
    leaderElect: false,
    nodeName: "n1",
  });
  await ctl.start();
  await ctl.synced();
}, 120_000);

afterAll(async () => {
  await rg?.stop(AbortSignal.timeout(5000));
  await ctl?.stop(AbortSignal.timeout(10_000));
  store?.close();
  await Promise.all([env?.stop(), cd?.stop()]);
});

test("a container in pod<uid>'s cgroup is linked to that Pod (Contains / ContainedBy), and unlinked when the Pod goes", async () => {
  await api.node(env, "n1");
  const pod = (await api.pod(env, "default", "web-0", { node: "n1" })) as { metadata: { uid: string } };
  const uid = pod.metadata.uid;
  await eventually("Pod in the store", () =>
    store.listResources([{ kind: "", type: "k8s.io.api.core.v1.Pod" } as never]).some((p) => p.metadata?.providerId === uid),
  );
  const id = randomBytes(32).toString("hex");
  cd.run("k8s.io", id, ["--cgroup", `/kubepods/besteffort/pod${uid}/${id}`], ["/bin/sleep", "1000"]);

  rg = createRuntimeGraphComponent({
    store,
    paths: { ...DEFAULT_HOST_PATHS, root: cd.hostRoot },
    intervalMs: 3_600_000,
    systemName: async () => "pod-host",
    logger: silentLogger,
    kubeCluster: () => ctl.cluster()?.clusterName,
  });
  await rg.start();
  const podRow = store.listResources([{ kind: "", type: "k8s.io.api.core.v1.Pod" } as never]).find((p) => p.metadata?.providerId === uid)!;
  const podRef = create(ResourceRefSchema, {
    typeUrl: "k8s.io.api.core.v1.Pod",
    name: podRow.metadata!.name,
    namespace: podRow.metadata!.namespace,
  });
  const containerRef = create(ResourceRefSchema, {
    typeUrl: "antimetal.runtime.v1.ContainerNode",
    name: id,
    namespace: { namespace: { case: "host", value: { host: "pod-host", container: "" } } },
  });
  expect(store.findRelationships({ subject: podRef, object: containerRef, predicate: "antimetal.runtime.v1.Contains" }).length).toBe(1);
  expect(store.findRelationships({ subject: containerRef, object: podRef, predicate: "antimetal.runtime.v1.ContainedBy" }).length).toBe(1);
  // the Pod's only runtime links are to this container
  expect(store.findRelationships({ subject: podRef, predicate: "antimetal.runtime.v1.Contains" }).map((r) => r.object?.name)).toEqual([id]);

  await env.request("DELETE", "/api/v1/namespaces/default/pods/web-0?gracePeriodSeconds=0");
  await eventually(
    "Pod gone from the store",
    () => !store.listResources([{ kind: "", type: "k8s.io.api.core.v1.Pod" } as never]).some((p) => p.metadata?.providerId === uid),
  );
  expect(store.findRelationships({ object: podRef }).length + store.findRelationships({ subject: podRef }).length).toBe(0);
  // the next scan does not bring the link back (the Pod is gone) and keeps the container
  const r = await rg.refresh();
  expect(r.relationshipsAdded).toBe(0);
  expect(
    store.findRelationships({ subject: containerRef, predicate: "antimetal.runtime.v1.ContainedBy" }).map((x) => x.object?.typeUrl),
  ).toEqual(["antimetal.hardware.v1.SystemNode"]);
}, 120_000);
