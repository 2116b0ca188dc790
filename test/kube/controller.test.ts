// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The Kubernetes controller against a real kube-apiserver + etcd (scripts/kube-testenv): initial
 * sync into the SQLite store, exact relationships, updates/moves/owner changes/deletes converging,
 * apiserver restart and 410 recovery without re-uploading unchanged objects.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create, fromBinary } from "@bufbuild/protobuf";
import { KubeClient } from "../../src/kube/client/client.ts";
import { loadKubeconfig } from "../../src/kube/client/config.ts";
import { createKubeController, type KubeController } from "../../src/kube/controller.ts";
import { collectionPath, KIND_BY_NAME, KINDS } from "../../src/kube/kinds.ts";
import { findLen, getString } from "../../src/kube/pb.ts";
import { Reflector } from "../../src/kube/reflector.ts";
import { createLogger } from "../../src/log/logger.ts";
import { registry } from "../../src/metrics/registry.ts";
import { ClusterProvider, ClusterSchema } from "../../src/proto/gen/kubernetes/v1/cluster_pb.ts";
import { TypeDescriptorSchema } from "../../src/proto/gen/resource/v1/object_pb.ts";
import { openStore } from "../../src/store/index.ts";
import type { Store, StoreEvent } from "../../src/store/types.ts";
import { type KubeTestEnv, startKubeTestEnv } from "../helpers/kube-testenv.ts";
import { api, eventually, kreq, owner, pair, relationshipStrings } from "./fixtures.ts";

const CLUSTER = "test-control-plane";
let env: KubeTestEnv;
let store: Store;
let ctl: KubeController;
const logger = createLogger({ level: (process.env.TEST_LOG_LEVEL as "info") ?? "error" });

function resources(type?: string) {
  return store.listResources(type ? [create(TypeDescriptorSchema, { type })] : []);
}

function names(type: string): string[] {
  return resources(type)
    .map((r) => {
      const ns = r.metadata?.namespace?.namespace;
      const n = ns?.case === "kube" ? ns.value.namespace : "";
      return n ? `${n}/${r.metadata!.name}` : r.metadata!.name;
    })
    .sort();
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => (x.labels as Record<string, unknown>)[k] === val));
  return Number(v?.value ?? 0);
}

/** Containment pairs every stored kube object implies (Cluster, and Namespace for namespaced ones). */
function containment(): string[] {
  const out: string[] = [];
  for (const spec of KINDS) {
    for (const n of names(spec.protoType)) {
      const ref = `${spec.kind}:${n}`;
      out.push(...pair("C", `Cluster:${CLUSTER}`, ref));
      if (spec.namespaced) out.push(...pair("C", `Namespace:${n.split("/")[0]}`, ref));
    }
  }
  return out;
}

/** collectionPending() right after the initial sync (the runtime and host graphs wait for it to turn false). */
let pendingAtSync = false;

beforeAll(async () => {
  env = await startKubeTestEnv();
  // kind-style cluster-info (kube-public) and nodes with kind providerIDs: auto-detects "kind"
  await kreq(env, "POST", "/api/v1/namespaces/kube-public/configmaps", {
    metadata: { name: "cluster-info" },
    data: {
      kubeconfig: `apiVersion: v1\nkind: Config\nclusters:\n- name: ""\n  cluster:\n    server: https://${CLUSTER}:6443\n`,
    },
  });
  for (const ns of ["team-a", "team-b"]) await api.namespace(env, ns);
  await api.node(
    env,
    "node-a",
    { "topology.kubernetes.io/region": "eu-west-1", "topology.kubernetes.io/zone": "eu-west-1a" },
    "kind://docker/test/node-a",
  );
  await api.node(
    env,
    "node-b",
    { "topology.kubernetes.io/region": "eu-west-1", "topology.kubernetes.io/zone": "eu-west-1b" },
    "kind://docker/test/node-b",
  );
  await api.storageClass(env, "fast");
  await api.pv(env, "pv-1", "fast", { "topology.kubernetes.io/zone": "eu-west-1a" });
  await api.pvc(env, "team-a", "data", "pv-1");
  const dep = await api.deployment(env, "team-a", "web");
  const rs = await api.replicaSet(env, "team-a", "web-1", [owner("Deployment", "apps/v1", dep as any)]);
  await api.pod(env, "team-a", "web-1-a", {
    node: "node-a",
    owners: [owner("ReplicaSet", "apps/v1", rs as any)],
    pvcs: ["data"],
    labels: { app: "web" },
  });
  await api.pod(env, "team-a", "web-1-b", { node: "node-b", owners: [owner("ReplicaSet", "apps/v1", rs as any)], labels: { app: "web" } });
  const job = await api.job(env, "team-b", "batch");
  await api.pod(env, "team-b", "batch-x", { node: "node-a", owners: [owner("Job", "batch/v1", job as any)] });
  await api.pod(env, "team-b", "widget-pod", {
    node: "node-b",
    owners: [{ apiVersion: "example.com/v1", kind: "Widget", name: "w1", uid: "00000000-0000-0000-0000-000000000001", controller: true }],
  });
  await api.pod(env, "team-b", "pending");
  await api.service(env, "team-a", "web");
  await api.endpointSlice(env, "team-a", "web-abc", "web", ["web-1-a", "web-1-b"]);
  await api.ingress(env, "team-a", "web-ing", "web");

  store = openStore({ dataDirectory: "", logger });
  ctl = createKubeController({
    config: await loadKubeconfig([env.kubeconfigPath]),
    store,
    logger,
    leaderElect: false,
    nodeName: "node-a",
  });
  await ctl.start();
  await ctl.synced();
  pendingAtSync = ctl.collectionPending();
}, 120_000);

afterAll(async () => {
  await ctl?.stop(AbortSignal.timeout(10_000));
  store?.close();
  await env?.stop();
});

describe("kube controller against a real kube-apiserver", () => {
  test("identifies the cluster (kind via providerID + cluster-info) and writes the Cluster resource", () => {
    expect(ctl.cluster()).toMatchObject({ provider: "kind", clusterName: CLUSTER });
    const [c] = resources("kubernetes.v1.Cluster");
    expect(c?.metadata?.name).toBe(CLUSTER);
    expect(c?.metadata?.namespace).toBeUndefined();
    const spec = fromBinary(ClusterSchema, c!.spec!.value);
    expect(spec.provider).toBe(ClusterProvider.KIND);
    expect(spec.majorVersion).toBe("1");
    expect(Number(spec.minorVersion)).toBeGreaterThanOrEqual(34);
    expect(ctl.isReady()).toBe(true);
  });

  test("the store holds every object of every watched kind, exactly", async () => {
    for (const spec of KINDS) {
      const list = await kreq<{ items: Array<{ metadata: { name: string; namespace?: string } }> }>(env, "GET", collectionPath(spec));
      const want = list.items.map((i) => (i.metadata.namespace ? `${i.metadata.namespace}/${i.metadata.name}` : i.metadata.name)).sort();
      expect({ kind: spec.kind, names: names(spec.protoType) }).toEqual({ kind: spec.kind, names: want });
    }
    expect(names("k8s.io.api.core.v1.Pod")).toEqual([
      "team-a/web-1-a",
      "team-a/web-1-b",
      "team-b/batch-x",
      "team-b/pending",
      "team-b/widget-pod",
    ]);
  });

  test("a resource carries labels as tags, node region/zone, and the protobuf object without managedFields", async () => {
    const pod = resources("k8s.io.api.core.v1.Pod").find((r) => r.metadata?.name === "web-1-a")!;
    expect(pod.type).toMatchObject({ kind: "resource.v1.Resource", type: "k8s.io.api.core.v1.Pod" });
    // the apiserver itself may add labels (node topology labels on bound pods), so compare with what it serves
    const live = await kreq(env, "GET", "/api/v1/namespaces/team-a/pods/web-1-a");
    expect(Object.fromEntries(pod.metadata!.tags.map((t) => [t.key, t.value]))).toEqual(live.metadata.labels);
    expect(pod.metadata?.tags.map((t) => t.key)).toContain("app");
    expect(pod.metadata?.region).toBe("eu-west-1");
    expect(pod.metadata?.zone).toBe("eu-west-1a");
    expect(pod.metadata?.providerId).toMatch(/^[0-9a-f-]{36}$/);
    expect(pod.spec?.typeUrl).toBe("k8s.io.api.core.v1.Pod");
    const raw = pod.spec!.value;
    const meta = findLen(raw, 0, raw.length, 1)!;
    expect(getString(raw, meta, 1)).toBe("web-1-a");
    expect(findLen(raw, meta.start, meta.end, 17)).toBeUndefined(); // managedFields stripped
    expect(getString(raw, findLen(raw, 0, raw.length, 2), 10)).toBe("node-a");
    const pv = resources("k8s.io.api.core.v1.PersistentVolume")[0]!;
    expect(pv.metadata?.zone).toBe("eu-west-1a");
  });

  test("exactly the expected relationships", () => {
    const P = "Pod:team-a/web-1-a";
    const Q = "Pod:team-a/web-1-b";
    const want = [
      ...containment(),
      ...pair("O", "Deployment:team-a/web", "ReplicaSet:team-a/web-1"),
      ...pair("O", "ReplicaSet:team-a/web-1", P),
      ...pair("O", "ReplicaSet:team-a/web-1", Q),
      ...pair("O", "Job:team-b/batch", "Pod:team-b/batch-x"),
      ...pair("O", "Widget:team-b/w1", "Pod:team-b/widget-pod"),
      ...pair("C", "Node:node-a", P),
      ...pair("C", "Node:node-b", Q),
      ...pair("C", "Node:node-a", "Pod:team-b/batch-x"),
      ...pair("C", "Node:node-b", "Pod:team-b/widget-pod"),
      ...pair("A", "PersistentVolumeClaim:team-a/data", P),
      ...pair("B", "PersistentVolumeClaim:team-a/data", "PersistentVolume:pv-1"),
      ...pair("U", "PersistentVolume:pv-1", "StorageClass:fast"),
      ...pair("R", "Service:team-a/web", P),
      ...pair("R", "Service:team-a/web", Q),
      ...pair("R", "Ingress:team-a/web-ing", "Service:team-a/web"),
    ].sort();
    expect(relationshipStrings(store)).toEqual(want);
  });

  test("updates, moves, owner changes and deletes converge; stale relationships are removed", async () => {
    // label change -> tags
    await api.patch(env, "/api/v1/namespaces/team-a/pods/web-1-b", { metadata: { labels: { app: "web", tier: "fe" } } });
    await eventually("tags updated", () =>
      resources("k8s.io.api.core.v1.Pod")
        .find((r) => r.metadata?.name === "web-1-b")!
        .metadata!.tags.some((t) => t.key === "tier"),
    );
    // a pod "moves": deleted and recreated with the same name on the other node
    await api.del(env, "/api/v1/namespaces/team-b/pods/batch-x");
    await api.pod(env, "team-b", "batch-x", { node: "node-b" });
    await eventually("batch-x on node-b", () => relationshipStrings(store).includes("Contains Node:node-b -> Pod:team-b/batch-x"));
    let rels = relationshipStrings(store);
    expect(rels).not.toContain("Contains Node:node-a -> Pod:team-b/batch-x");
    expect(rels).not.toContain("Owns Job:team-b/batch -> Pod:team-b/batch-x");
    expect(resources("k8s.io.api.core.v1.Pod").find((r) => r.metadata?.name === "batch-x")!.metadata?.zone).toBe("eu-west-1b");
    // owner change: web-1-b is adopted by another ReplicaSet
    const rs2 = await api.replicaSet(env, "team-a", "web-2");
    await api.patch(env, "/api/v1/namespaces/team-a/pods/web-1-b", {
      metadata: { ownerReferences: [owner("ReplicaSet", "apps/v1", rs2 as any)] },
    });
    await eventually("web-1-b owned by web-2", () =>
      relationshipStrings(store).includes("Owns ReplicaSet:team-a/web-2 -> Pod:team-a/web-1-b"),
    );
    rels = relationshipStrings(store);
    expect(rels).not.toContain("Owns ReplicaSet:team-a/web-1 -> Pod:team-a/web-1-b");
    expect(rels).not.toContain("OwnedBy Pod:team-a/web-1-b -> ReplicaSet:team-a/web-1");
    // endpoint removed from the slice -> RoutesTo gone
    await api.patch(env, "/apis/discovery.k8s.io/v1/namespaces/team-a/endpointslices/web-abc", {
      endpoints: [{ addresses: ["10.1.0.1"], targetRef: { kind: "Pod", namespace: "team-a", name: "web-1-a" } }],
    });
    await eventually(
      "route to web-1-b removed",
      () => !relationshipStrings(store).includes("RoutesTo Service:team-a/web -> Pod:team-a/web-1-b"),
    );
    expect(relationshipStrings(store)).toContain("RoutesTo Service:team-a/web -> Pod:team-a/web-1-a");
    // a second slice for the same service routing to the same pod: removing one keeps the route
    await api.endpointSlice(env, "team-a", "web-def", "web", ["web-1-a"]);
    await Bun.sleep(300);
    await api.del(env, "/apis/discovery.k8s.io/v1/namespaces/team-a/endpointslices/web-def");
    await eventually("slice deleted", () => !names("k8s.io.api.discovery.v1.EndpointSlice").includes("team-a/web-def"));
    expect(relationshipStrings(store)).toContain("RoutesTo Service:team-a/web -> Pod:team-a/web-1-a");
    // delete: resource and its relationships go
    await api.del(env, "/api/v1/namespaces/team-b/pods/widget-pod");
    await eventually("widget-pod gone", () => !names("k8s.io.api.core.v1.Pod").includes("team-b/widget-pod"));
    expect(relationshipStrings(store).filter((s) => s.includes("widget-pod"))).toEqual([]);
    // the PVC's PV goes away and comes back: the ClaimsFrom pair the PVC implies is restored
    await api.del(env, "/api/v1/persistentvolumes/pv-1");
    // no controller-manager here to drop the pv-protection finalizer
    await api.patch(env, "/api/v1/persistentvolumes/pv-1", { metadata: { finalizers: null } });
    await eventually("pv-1 gone", () => !names("k8s.io.api.core.v1.PersistentVolume").includes("pv-1"));
    expect(relationshipStrings(store)).not.toContain("ClaimsFrom PersistentVolumeClaim:team-a/data -> PersistentVolume:pv-1");
    await api.pv(env, "pv-1", "fast");
    await eventually("pv-1 back with its claim", () =>
      relationshipStrings(store).includes("ClaimsFrom PersistentVolumeClaim:team-a/data -> PersistentVolume:pv-1"),
    );
    // and the whole graph is still exactly what the objects imply
    const P = "Pod:team-a/web-1-a";
    const want = [
      ...containment(),
      ...pair("O", "Deployment:team-a/web", "ReplicaSet:team-a/web-1"),
      ...pair("O", "ReplicaSet:team-a/web-1", P),
      ...pair("O", "ReplicaSet:team-a/web-2", "Pod:team-a/web-1-b"),
      ...pair("C", "Node:node-a", P),
      ...pair("C", "Node:node-b", "Pod:team-a/web-1-b"),
      ...pair("C", "Node:node-b", "Pod:team-b/batch-x"),
      ...pair("A", "PersistentVolumeClaim:team-a/data", P),
      ...pair("B", "PersistentVolumeClaim:team-a/data", "PersistentVolume:pv-1"),
      ...pair("U", "PersistentVolume:pv-1", "StorageClass:fast"),
      ...pair("R", "Service:team-a/web", P),
      ...pair("R", "Ingress:team-a/web-ing", "Service:team-a/web"),
    ].sort();
    expect(relationshipStrings(store)).toEqual(want);
  }, 60_000);

  test("a failed graph write is not lost: the reflector relists and offers every object again", async () => {
    const got = new Map<string, string>();
    let failures = 1;
    const r = new Reflector({
      client: new KubeClient(await loadKubeconfig([env.kubeconfigPath])),
      spec: KIND_BY_NAME.get("Namespace")!,
      logger,
      backoffBaseMs: 50,
      sink: {
        push: async (events) => {
          if (failures-- > 0) throw new Error("disk full");
          for (const e of events) if (e.type === "upsert") got.set(e.obj.key, e.obj.meta.resourceVersion);
        },
      },
    });
    r.start();
    await eventually("namespaces delivered after the failure", () => got.has("team-a") && got.has("team-b"), 10_000);
    expect(await metric("antimetal_kube_relists_total", { kind: "Namespace", reason: "graph_write_failed" })).toBeGreaterThanOrEqual(1);
    await r.stop();
  });

  test("a kind over its memory budget stops tracking new objects and counts them", async () => {
    const got: string[] = [];
    const r = new Reflector({
      client: new KubeClient(await loadKubeconfig([env.kubeconfigPath])),
      spec: KIND_BY_NAME.get("Pod")!,
      logger,
      budgetBytes: 300, // room for about two pods' bookkeeping
      sink: { push: async (events) => void got.push(...events.flatMap((e) => (e.type === "upsert" ? [e.obj.key] : []))) },
    });
    r.start();
    await r.synced;
    await r.stop();
    const pods = names("k8s.io.api.core.v1.Pod").length; // the controller's store mirrors the cluster
    expect(pods).toBeGreaterThan(2);
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(pods);
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === "antimetal_queue_dropped_total");
    const dropped = m?.values.find((v) => v.labels.queue === "kube_cache_Pod" && v.labels.reason === "over_budget");
    expect(Number(dropped?.value)).toBe(pods - got.length);
  }, 30_000);

  test("apiserver restart and 410 Gone: relist, no re-upload of unchanged objects, changes still arrive", async () => {
    const events: StoreEvent[] = [];
    await Bun.sleep(200);
    const sub = store.subscribe([], (e) => events.push(e));
    await Bun.sleep(50);
    events.length = 0; // the initial snapshot
    const gone0 = await metric("antimetal_kube_relists_total", { kind: "Pod", reason: "gone" });
    await env.stopApiserver();
    // bump etcd's revision and compact it, so every watch's resourceVersion is gone
    const put = await fetch(`${env.etcdUrl}/v3/kv/put`, {
      method: "POST",
      body: JSON.stringify({ key: btoa("/unrelated"), value: btoa("x") }),
    });
    const rev = Number(((await put.json()) as { header: { revision: string } }).header.revision);
    const cmp = await fetch(`${env.etcdUrl}/v3/kv/compaction`, { method: "POST", body: JSON.stringify({ revision: rev, physical: true }) });
    expect(cmp.ok).toBe(true);
    await env.startApiserver();
    await eventually(
      "pods relisted after 410",
      async () => (await metric("antimetal_kube_relists_total", { kind: "Pod", reason: "gone" })) > gone0,
      60_000,
    );
    await api.pod(env, "team-b", "after-restart", { node: "node-a" });
    await eventually("new pod after restart", () => names("k8s.io.api.core.v1.Pod").includes("team-b/after-restart"), 30_000);
    sub.close();
    const touched = events.flatMap((e) => e.objs.map((o) => `${e.type} ${o.type?.type}`));
    // only the new pod and its relationships were written: nothing unchanged was re-sent
    expect(touched.filter((t) => t.includes("k8s.io.api") && !t.startsWith("ADD"))).toEqual([]);
    expect(touched.filter((t) => t === "ADD k8s.io.api.core.v1.Pod")).toHaveLength(1);
    expect(await metric("antimetal_kube_watch_staleness_seconds", { kind: "Pod" })).toBeLessThan(30);
  }, 120_000);

  test("an agent restarted on a persistent store removes what changed while it was down", async () => {
    await ctl.stop(AbortSignal.timeout(10_000));
    await api.del(env, "/api/v1/namespaces/team-b/pods/after-restart");
    await api.del(env, "/api/v1/namespaces/team-a/pods/web-1-b");
    await api.pod(env, "team-a", "web-1-b", { node: "node-a", labels: { app: "web" } }); // moved, no owner now
    ctl = createKubeController({
      config: await loadKubeconfig([env.kubeconfigPath]),
      store,
      logger,
      leaderElect: false,
      nodeName: "node-a",
    });
    await ctl.start();
    await ctl.synced();
    expect(names("k8s.io.api.core.v1.Pod")).not.toContain("team-b/after-restart");
    const rels = relationshipStrings(store);
    expect(rels).toContain("Contains Node:node-a -> Pod:team-a/web-1-b");
    expect(rels).not.toContain("Contains Node:node-b -> Pod:team-a/web-1-b");
    expect(rels).not.toContain("Owns ReplicaSet:team-a/web-2 -> Pod:team-a/web-1-b");
    expect(rels.filter((r) => r.includes("after-restart"))).toEqual([]);
    expect(rels).toEqual(expect.arrayContaining(containment()));
  }, 60_000);
});

test("with leader election, readiness waits for the first election round: a new sole candidate is ready only with the graph synced", async () => {
  const own = openStore({ dataDirectory: "", logger });
  const candidate = createKubeController({
    config: await loadKubeconfig([env.kubeconfigPath]),
    store: own,
    logger,
    leaderElect: true,
    leaseName: `readiness-${Date.now()}`,
    nodeName: "node-a",
  });
  try {
    await candidate.start();
    const deadline = Date.now() + 60_000;
    while (!candidate.isReady() && Date.now() < deadline) await Bun.sleep(2);
    expect(candidate.isReady()).toBe(true);
    // the only candidate leads; had it been ready before its first round, the store would still be empty
    const pods = own.listResources([create(TypeDescriptorSchema, { type: "k8s.io.api.core.v1.Pod" })]);
    expect(pods.length).toBeGreaterThan(0);
  } finally {
    await candidate.stop(AbortSignal.timeout(10_000));
    own.close();
  }
}, 90_000);

test("the initial sync's garbage is collected shortly after it: pending at the sync, done within 2 s", async () => {
  expect(pendingAtSync).toBe(true);
  const deadline = Date.now() + 2000;
  while (ctl.collectionPending() && Date.now() < deadline) await Bun.sleep(10);
  expect(ctl.collectionPending()).toBe(false);
});

test("watch events are collected after too: every watchGcEvery events after the sync schedule a full collection", async () => {
  const own = openStore({ dataDirectory: "", logger });
  const watcher = createKubeController({
    config: await loadKubeconfig([env.kubeconfigPath]),
    store: own,
    logger,
    leaderElect: false,
    nodeName: "node-a",
    kinds: [KIND_BY_NAME.get("Namespace")!],
    watchGcEvery: 3,
  });
  const until = async (pending: boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (watcher.collectionPending() !== pending && Date.now() < deadline) await Bun.sleep(5);
    return watcher.collectionPending();
  };
  try {
    await watcher.start();
    await watcher.synced();
    expect(await until(false, 5000)).toBe(false); // the post-sync collection ran
    const namespaces = () => own.listResources([create(TypeDescriptorSchema, { type: "k8s.io.api.core.v1.Namespace" })]).length;
    const atSync = namespaces();
    const suffix = Date.now().toString(36);
    await api.namespace(env, `gc-a-${suffix}`);
    await api.namespace(env, `gc-b-${suffix}`);
    await eventually("two new namespaces stored", () => namespaces() === atSync + 2);
    expect(watcher.collectionPending()).toBe(false); // two events: below the count
    await api.namespace(env, `gc-c-${suffix}`);
    expect(await until(true, 10_000)).toBe(true);
    expect(await until(false, 5000)).toBe(false); // and it runs a second later
  } finally {
    await watcher.stop(AbortSignal.timeout(10_000));
    own.close();
  }
}, 60_000);
