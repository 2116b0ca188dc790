// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// HostPods against a real (in-memory) store: containers are linked to their Pods by CRI's name or by
// the cgroup's Pod UID, the cluster's other Pods are neither listed nor decoded, and Pod events
// report exactly the changes that concern this host's containers.

import { afterEach, expect, spyOn, test } from "bun:test";
import { create, equals } from "@bufbuild/protobuf";
import { resourceRefOf } from "../graph/keys.ts";
import { silentLogger } from "../log/logger.ts";
import { type Resource, ResourceRefSchema, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { openStore, type Store } from "../store/index.ts";
import type { ContainerInfo } from "./discover.ts";
import { HostPods, POD_TYPE, type PodChange, podRef } from "./pods.ts";

const CLUSTER = "c1";
const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function pod(name: string, uid: string, namespace = "default"): Resource {
  return create(ResourceSchema, {
    type: { kind: "resource.v1.Resource", type: POD_TYPE },
    metadata: { name, providerId: uid, namespace: { namespace: { case: "kube", value: { cluster: CLUSTER, namespace } } } },
  });
}
function container(id: string, p: Partial<Pick<ContainerInfo, "podUid" | "podName" | "podNamespace">>): ContainerInfo {
  return {
    id,
    runtime: 3,
    cgroupVersion: 2,
    cgroupPath: `/k/${id}`,
    relPath: `k/${id}`,
    imageName: "i",
    imageTag: "1",
    labels: {},
    createdMs: 0,
    startedMs: 0,
    limits: { cpuShares: 2, cpusetCpus: "", cpusetMems: "", memoryLimitBytes: 0n },
    containerName: "n",
    workloadName: "w",
    ...p,
  };
}
/** A store holding `n` Pods (pod-0 … pod-n-1 with UIDs uid-0 …) and HostPods over it, with the changes it reports. */
function setup(n: number, cluster: string | undefined = CLUSTER) {
  const store = openStore({ dataDirectory: "", logger: silentLogger });
  stores.push(store);
  store.apply(Array.from({ length: n }, (_, i) => ({ op: "add" as const, resource: pod(`pod-${i}`, `uid-${i}`) })));
  const changes: PodChange[] = [];
  const scans = spyOn(store, "listResourcesContaining");
  const lists = spyOn(store, "listResources");
  const pods = new HostPods(
    store,
    () => cluster,
    (c) => changes.push(c),
  );
  return { store, pods, changes, scans, lists };
}
const same = (a: unknown, b: unknown) => equals(ResourceRefSchema, a as never, b as never);

test("a container with CRI's pod name is linked by name, without reading any Pod", () => {
  const { pods, scans, lists } = setup(100);
  const c = container("a", { podUid: "uid-7", podName: "pod-7", podNamespace: "default" });
  const ref = pods.lookup([c])(c);
  expect(same(ref, podRef(CLUSTER, "default", "pod-7"))).toBe(true);
  expect(scans).not.toHaveBeenCalled();
  expect(lists).not.toHaveBeenCalled();
});

test("a container with only a Pod UID finds its Pod by a search in the store, once", () => {
  const { store, pods, scans } = setup(1000);
  const c = container("a", { podUid: "uid-500" });
  const d = container("b", {});
  const lookup = pods.lookup([c, d]);
  expect(same(lookup(c), resourceRefOf(store.getResource(podRef(CLUSTER, "default", "pod-500"))))).toBe(true);
  expect(lookup(d)).toBeUndefined();
  expect(scans).toHaveBeenCalledTimes(1);
  expect(same(pods.lookup([c, d])(c), podRef(CLUSTER, "default", "pod-500"))).toBe(true);
  expect(scans).toHaveBeenCalledTimes(1); // the next scan's lookup reads nothing
  // without the cluster's name, CRI's pod name cannot make a ref: the UID does
  const { pods: noCluster } = setup(10, undefined);
  const named = container("c", { podUid: "uid-3", podName: "pod-3", podNamespace: "default" });
  expect(same(noCluster.lookup([named])(named), podRef(CLUSTER, "default", "pod-3"))).toBe(true);
});

test("a Pod stored after its container was seen is reported for a relink, and other Pods' writes are not", () => {
  const { store, pods, changes, scans } = setup(50);
  const c = container("a", { podUid: "uid-new" });
  expect(pods.lookup([c])(c)).toBeUndefined();
  const changed = (r: Resource) => {
    r.metadata!.region = "changed";
    return r;
  };
  for (let i = 0; i < 50; i++) store.updateResource(changed(pod(`pod-${i}`, `uid-${i}`)));
  store.addResource(pod("other", "uid-other"));
  expect(changes).toEqual([]);
  store.addResource(pod("web", "uid-new"));
  expect(changes).toEqual([{ relink: true, unlinked: false }]);
  expect(same(pods.lookup([c])(c), podRef(CLUSTER, "default", "web"))).toBe(true);
  expect(scans).toHaveBeenCalledTimes(1);
});

test("a Pod created again under its name (an UPDATE with the new UID) links its container", () => {
  const { store, pods, changes } = setup(3);
  const c = container("a", { podUid: "uid-again" });
  expect(pods.lookup([c])(c)).toBeUndefined();
  store.updateResource(pod("pod-1", "uid-again"));
  expect(changes).toEqual([{ relink: true, unlinked: false }]);
  expect(same(pods.lookup([c])(c), podRef(CLUSTER, "default", "pod-1"))).toBe(true);
});

test("deleting a linked Pod reports unlinked; deleting any other Pod reports nothing", () => {
  const { store, pods, changes } = setup(10);
  const byName = container("a", { podName: "pod-1", podNamespace: "default" });
  const byUid = container("b", { podUid: "uid-2" });
  pods.lookup([byName, byUid]);
  store.deleteResource(podRef(CLUSTER, "default", "pod-5"));
  expect(changes).toEqual([]);
  store.deleteResource(podRef(CLUSTER, "default", "pod-1"));
  store.deleteResource(podRef(CLUSTER, "default", "pod-2"));
  expect(changes).toEqual([
    { relink: false, unlinked: true },
    { relink: false, unlinked: true },
  ]);
  // pod-2 stored again (a relist) links its container again
  store.addResource(pod("pod-2", "uid-2"));
  expect(changes.at(-1)).toEqual({ relink: true, unlinked: false });
});

test("no container in a pod: no Pod subscription, and a container gone is forgotten", () => {
  const { store, pods, changes } = setup(5);
  const subscribe = spyOn(store, "subscribe");
  expect(pods.lookup([container("a", {})])(container("a", {}))).toBeUndefined();
  expect(subscribe).not.toHaveBeenCalled();
  const c = container("b", { podUid: "uid-later" });
  pods.lookup([c]);
  expect(subscribe).toHaveBeenCalledTimes(1);
  pods.lookup([]); // the container went away before its Pod was stored
  store.addResource(pod("late", "uid-later"));
  expect(changes).toEqual([]);
  pods.close();
});
