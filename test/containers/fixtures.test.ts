// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The runtime graph of fixture hosts (cgroup v2 with the systemd driver: docker, CRI containerd with its
// pause container, cri-o, podman; cgroup v1 with cgroupfs: docker, CRI containerd under kubepods, plain
// containerd named by ctr), scanned by the real component into a real SQLite store and compared with
// golden files holding every resource and relationship exactly. Rewrite the goldens after an intended
// change with UPDATE_GOLDEN=1 bun test test/containers/fixtures.test.ts, then review the diff.

import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { createRuntimeGraphComponent } from "../../src/containers/index.ts";
import { kubeNamespace, newResource } from "../../src/graph/build.ts";
import { HostIo } from "../../src/perf/io.ts";
import { Provider } from "../../src/proto/gen/resource/v1/provider_pb.ts";
import type { Store, StoreEvent } from "../../src/store/index.ts";
import { copyFixture, FIXTURES, pathsUnder, renderStored, silentLogger, tempStore } from "./helpers.ts";

const UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function component(store: Store, root: string, kubeCluster?: string) {
  const paths = pathsUnder(root);
  return createRuntimeGraphComponent({
    store,
    paths,
    intervalMs: 60_000,
    systemName: async () => "host-1",
    logger: silentLogger,
    kubeCluster: () => kubeCluster,
    io: new HostIo(paths.sys, 4, paths.proc),
  });
}

function golden(name: string, actual: unknown): void {
  const file = path.join(FIXTURES, `${name}.expected.json`);
  if (process.env.UPDATE_GOLDEN === "1") fs.writeFileSync(file, `${JSON.stringify(actual, null, 1)}\n`);
  expect(actual).toEqual(JSON.parse(fs.readFileSync(file, "utf8")));
}

function storeWithPod(): Store {
  const { store, cleanup } = tempStore();
  cleanups.push(cleanup);
  // The Pod as the Kubernetes controller stores it: provider_id is its UID.
  store.updateResource(
    newResource({
      type: "k8s.io.api.core.v1.Pod",
      metadata: { provider: Provider.KUBERNETES, providerId: UID, name: "api-7d4f8bd9c-abc12", namespace: kubeNamespace("c1", "prod") },
    }),
  );
  return store;
}

describe("cgroup v2, systemd driver", () => {
  test("docker, CRI containerd (+ pause), cri-o and podman with their processes: the golden graph exactly", async () => {
    const store = storeWithPod();
    const r = await component(store, path.join(FIXTURES, "v2-systemd")).refresh();
    expect(r).toMatchObject({
      containers: 5,
      processes: 8,
      deleted: 0,
      leftOut: { kernel_thread: 2, young: 0, container_cap: 0, host_cap: 0 },
    });
    golden("v2-systemd", renderStored(store));
  });

  test("a second scan of the same host writes nothing", async () => {
    const store = storeWithPod();
    const c = component(store, path.join(FIXTURES, "v2-systemd"));
    await c.refresh();
    const events: StoreEvent[] = [];
    store.subscribe([], (e) => events.push(e));
    await Bun.sleep(0);
    events.length = 0; // the initial snapshot (delivered on a microtask)
    expect(await c.refresh()).toMatchObject({ upserted: 0, deleted: 0, relationshipsAdded: 0, relationshipsDeleted: 0 });
    expect(events).toEqual([]);
  });
});

describe("cgroup v1, cgroupfs driver", () => {
  test("docker, CRI containerd under kubepods (runtime from its state), ctr's /<ns>/<id>: the golden graph exactly", async () => {
    const { store, cleanup } = tempStore();
    cleanups.push(cleanup);
    // No Pod in this store (a non-leader agent): the container links to its Pod by CRI's name once the cluster is known.
    const r = await component(store, path.join(FIXTURES, "v1-cgroupfs"), "c1").refresh();
    expect(r).toMatchObject({ containers: 3, processes: 6 });
    golden("v1-cgroupfs", renderStored(store));
  });
});

describe("changes", () => {
  test("a vanished container and process are deleted with their relationships; a changed one is rewritten; nothing else", async () => {
    const fx = copyFixture("v2-systemd");
    cleanups.push(fx.cleanup);
    const store = storeWithPod();
    const c = component(store, fx.root);
    await c.refresh();
    const before = renderStored(store);
    const docker = "a1".repeat(32);
    fs.rmSync(path.join(fx.root, "sys/fs/cgroup/system.slice", `docker-${docker}.scope`), { recursive: true });
    for (const pid of ["1000", "1001"]) fs.rmSync(path.join(fx.root, "proc", pid), { recursive: true });
    // the cri-o container's memory limit changes
    fs.writeFileSync(path.join(fx.root, "sys/fs/cgroup/system.slice", `crio-${"c3".repeat(32)}.scope`, "memory.max"), "2147483648\n");
    const events: StoreEvent[] = [];
    store.subscribe([], (e) => events.push(e));
    await Bun.sleep(0);
    events.length = 0; // the initial snapshot (delivered on a microtask)
    const r = await c.refresh();
    expect(r).toMatchObject({ containers: 4, processes: 6, upserted: 1, deleted: 3, relationshipsAdded: 0 });
    const after = renderStored(store);
    const gone = (s: string) => s.includes(docker) || /ProcessNode\/host\/host-1\/[0-9a-f]*\/100[01]\b/.test(s);
    expect(after.relationships).toEqual(before.relationships.filter((l) => !gone(l)));
    expect(after.resources.map((x) => (x as { key: string }).key)).toEqual(
      before.resources.map((x) => (x as { key: string }).key).filter((k) => !gone(k)),
    );
    // the store's events: one update, three deletes (each with its relationships), nothing for the rest
    const resourceEvents = events.flatMap((e) =>
      e.objs.filter((o) => o.type?.kind === "resource.v1.Resource").map((o) => `${e.type} ${o.type?.type}`),
    );
    expect(resourceEvents.sort()).toEqual([
      "DELETE antimetal.runtime.v1.ContainerNode",
      "DELETE antimetal.runtime.v1.ProcessNode",
      "DELETE antimetal.runtime.v1.ProcessNode",
      "UPDATE antimetal.runtime.v1.ContainerNode",
    ]);
  });

  test("a restarted agent deletes what vanished while it was down (the first scan diffs against the store)", async () => {
    const fx = copyFixture("v1-cgroupfs");
    cleanups.push(fx.cleanup);
    const { store, cleanup } = tempStore();
    cleanups.push(cleanup);
    await component(store, fx.root).refresh();
    fs.rmSync(path.join(fx.root, "proc", "702"), { recursive: true });
    const r = await component(store, fx.root).refresh();
    expect(r).toMatchObject({ upserted: 0, deleted: 1, relationshipsAdded: 0 });
    expect(renderStored(store).resources.map((x) => (x as { key: string }).key)).not.toContain(
      "antimetal.runtime.v1.ProcessNode/host/host-1/web/702",
    );
  });
});
