// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The hardware manager against the real store (SQLite file in a temp dir): what it writes, that an
// unchanged host writes nothing, that vanished devices are deleted, that a failed collector deletes
// nothing, and the link to the Kubernetes Node whichever appears first.

import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { create } from "@bufbuild/protobuf";
import { createHardwareCollectors, type HardwareCollectors } from "../../src/hostgraph/collect.ts";
import { createHostGraphComponent, type HostGraphComponent } from "../../src/hostgraph/manager.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { Provider } from "../../src/proto/gen/resource/v1/provider_pb.ts";
import { type Resource, ResourceRefSchema, ResourceSchema } from "../../src/proto/gen/resource/v1/resource_pb.ts";
import { openStore, RelationshipsNotFoundError, type Store } from "../../src/store/index.ts";
import { copyFixture } from "./helpers.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function setup(
  fixture: string,
  nodeName = "worker-1",
  collectors?: (c: HardwareCollectors) => HardwareCollectors,
  kubeCluster?: () => string | undefined,
) {
  const fx = copyFixture(fixture);
  const dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), "hostgraph-store-"));
  const store = openStore({ dataDirectory, logger: silentLogger });
  cleanups.push(() => {
    store.close();
    fs.rmSync(dataDirectory, { recursive: true, force: true });
    fx.cleanup();
  });
  const real = createHardwareCollectors(fx.paths);
  const hg = createHostGraphComponent({
    store,
    paths: fx.paths,
    intervalMs: 3_600_000,
    nodeName,
    logger: silentLogger,
    collectors: collectors ? collectors(real) : real,
    kubeCluster,
  });
  cleanups.push(() => void hg.stop(AbortSignal.timeout(1000)));
  return { fx, store, hg };
}

function kubeNode(name: string, cluster = "c1"): Resource {
  return create(ResourceSchema, {
    type: { kind: "resource.v1.Resource", type: "k8s.io.api.core.v1.Node" },
    metadata: {
      provider: Provider.KUBERNETES,
      providerId: "uid-1",
      name,
      namespace: { namespace: { case: "kube", value: { cluster, namespace: "" } } },
    },
    spec: { typeUrl: "k8s.io.api.core.v1.Node", value: new Uint8Array() },
  });
}

function instanceEntries(store: Store) {
  return store.outbox.read("instance", 0, 1_000_000);
}

function hardwareNames(store: Store): string[] {
  return store
    .listResources([{ kind: "", type: "antimetal.hardware.v1" } as never])
    .map((r) => r.metadata!.name)
    .sort();
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(10);
  }
}

describe("refresh", () => {
  test("first refresh writes the whole graph to the instance channel; a second writes nothing", async () => {
    const { store, hg } = setup("numa-server");
    const first = await hg.refresh();
    expect(first.errors).toEqual({});
    expect(first.upserted).toBe(first.resources);
    expect(first.relationshipsAdded).toBe(first.relationships);
    expect(first.deleted + first.relationshipsDeleted).toBe(0);
    const entries = instanceEntries(store);
    expect(entries.length).toBe(first.resources + first.relationships);
    expect(entries.every((e) => e.op === "CREATE")).toBe(true);
    expect(store.outbox.stats("cluster").depth).toBe(0);

    const second = await hg.refresh();
    expect([second.upserted, second.deleted, second.relationshipsAdded, second.relationshipsDeleted]).toEqual([0, 0, 0, 0]);
    const after = instanceEntries(store);
    expect(after.map((e) => [e.key, e.seq])).toEqual(entries.map((e) => [e.key, e.seq]));
  });

  test("a removed disk is deleted with its partitions and relationships", async () => {
    const { fx, store, hg } = setup("numa-server");
    await hg.refresh();
    const sys = "7d2e0b6c94a14f0f8d3a5c1e2b4f6a80";
    expect(hardwareNames(store)).toContain(`${sys}-disk-sda`);
    const sdaRef = create(ResourceRefSchema, { typeUrl: "antimetal.hardware.v1.DiskDeviceNode", name: `${sys}-disk-sda` });
    expect(store.getRelationships(sdaRef).length).toBe(4); // ContainedBy system, Contains sda1, ConnectedTo, NUMAAffinity
    const seqBefore = Math.max(...instanceEntries(store).map((e) => e.seq));

    fs.rmSync(path.join(fx.root, "sys", "block", "sda"), { recursive: true });
    const r = await hg.refresh();
    expect(r.deleted).toBe(2);
    expect(r.upserted).toBe(0);
    expect(r.relationshipsAdded).toBe(0);
    expect(hardwareNames(store)).not.toContain(`${sys}-disk-sda`);
    expect(hardwareNames(store)).not.toContain(`${sys}-partition-sda1`);
    expect(() => store.getRelationships(sdaRef)).toThrow(RelationshipsNotFoundError);
    expect(() => store.getRelationships(undefined, sdaRef)).toThrow(RelationshipsNotFoundError);
    const fresh = instanceEntries(store).filter((e) => e.seq > seqBefore);
    expect(fresh.every((e) => e.op === "DELETE")).toBe(true);
    // two resources, and the 7 relationships that touched them: sda<->system Contains/ContainedBy,
    // ConnectedTo/BusConnection, sda->numa-node-0 NUMAAffinity, sda<->sda1 Contains/ContainedBy
    expect(fresh.length).toBe(2 + 7);

    // and nothing more on the next refresh
    const again = await hg.refresh();
    expect([again.upserted, again.deleted, again.relationshipsAdded, again.relationshipsDeleted]).toEqual([0, 0, 0, 0]);
  });

  test("a changed device is rewritten, and only it", async () => {
    const { fx, store, hg } = setup("laptop");
    await hg.refresh();
    const seqBefore = Math.max(...instanceEntries(store).map((e) => e.seq));
    fs.writeFileSync(path.join(fx.root, "sys", "class", "net", "wlp0s20f3", "operstate"), "down\n");
    fs.writeFileSync(path.join(fx.root, "sys", "class", "net", "wlp0s20f3", "carrier"), "0\n");
    const r = await hg.refresh();
    expect([r.upserted, r.deleted, r.relationshipsAdded, r.relationshipsDeleted]).toEqual([1, 0, 0, 0]);
    // One outbox entry, for that interface (still CREATE here: the first one was never sent, and
    // the outbox coalesces pending entries per object).
    const fresh = instanceEntries(store).filter((e) => e.seq > seqBefore);
    expect(fresh.length).toBe(1);
    expect(fresh[0]!.key).toContain("antimetal.hardware.v1.NetworkInterfaceNode/");
    expect(store.outbox.stats("instance").depth).toBe(instanceEntries(store).length);
  });

  test("a failing collector keeps its part of the graph (nothing is deleted)", async () => {
    let fail = false;
    const { store, hg } = setup("numa-server", "worker-1", (c) => ({
      ...c,
      disk_info: { collect: (s) => (fail ? Promise.reject(new Error("failed to read block devices")) : c.disk_info.collect(s)) },
    }));
    await hg.refresh();
    const before = hardwareNames(store);
    fail = true;
    const r = await hg.refresh();
    expect(r.errors).toEqual({ disk_info: "failed to read block devices" });
    expect(r.deleted + r.relationshipsDeleted).toBe(0);
    expect(hardwareNames(store)).toEqual(before);
  });

  test("a new machine-id renames the whole graph: old names deleted, new ones written", async () => {
    const { fx, store, hg } = setup("laptop");
    await hg.refresh();
    fs.writeFileSync(path.join(fx.root, "etc", "machine-id"), "11111111111111111111111111111111\n");
    const r = await hg.refresh();
    expect(r.systemName).toBe("11111111111111111111111111111111");
    expect(r.deleted).toBe(r.upserted);
    expect(hardwareNames(store).every((n) => n.startsWith("11111111111111111111111111111111"))).toBe(true);
  });
});

describe("link to the Kubernetes Node", () => {
  const systemRef = create(ResourceRefSchema, { typeUrl: "antimetal.hardware.v1.SystemNode", name: "0f3c9a7e5b2d4e61a8c7b9d0e1f23456" });
  const links = (store: Store) => {
    try {
      return store
        .getRelationships(systemRef, undefined, "kubernetes.v1.RegisteredAs")
        .concat(store.getRelationships(undefined, systemRef, "kubernetes.v1.Underlying"))
        .map((r) => `${r.subject!.name} ${r.type!.type} ${r.object!.name}`)
        .sort();
    } catch (e) {
      if (e instanceof RelationshipsNotFoundError) return [];
      throw e;
    }
  };

  test("Node first, then the host graph", async () => {
    const { store, hg } = setup("laptop", "worker-1");
    store.updateResource(kubeNode("worker-1"));
    store.updateResource(kubeNode("worker-2"));
    const r = await hg.refresh();
    expect(r.linked).toBe(true);
    expect(links(store)).toEqual([
      "0f3c9a7e5b2d4e61a8c7b9d0e1f23456 kubernetes.v1.RegisteredAs worker-1",
      "worker-1 kubernetes.v1.Underlying 0f3c9a7e5b2d4e61a8c7b9d0e1f23456",
    ]);
    const again = await hg.refresh();
    expect(again.relationshipsAdded + again.relationshipsDeleted).toBe(0);
  });

  test("host graph first, then the Node (store subscription), and again after the Node is recreated", async () => {
    const { store, hg } = setup("laptop", "worker-1");
    await hg.start();
    expect(hg.isReady()).toBe(true);
    expect(links(store)).toEqual([]);
    store.updateResource(kubeNode("worker-2"));
    await Bun.sleep(50);
    expect(links(store)).toEqual([]);
    store.updateResource(kubeNode("worker-1"));
    await until(() => links(store).length === 2);
    // deleting the Node cascades the link; re-adding it relinks
    store.deleteResource(
      create(ResourceRefSchema, {
        typeUrl: "k8s.io.api.core.v1.Node",
        name: "worker-1",
        namespace: kubeNode("worker-1").metadata!.namespace,
      }),
    );
    expect(links(store)).toEqual([]);
    store.updateResource(kubeNode("worker-1"));
    await until(() => links(store).length === 2);
    await hg.stop(AbortSignal.timeout(1000));
  });
});

test("link: a non-leader (no Node in its store) links by reference once the cluster name is known", async () => {
  let cluster: string | undefined;
  const { store, hg } = setup("laptop", "worker-1", undefined, () => cluster);
  const sysRef = create(ResourceRefSchema, { typeUrl: "antimetal.hardware.v1.SystemNode", name: "0f3c9a7e5b2d4e61a8c7b9d0e1f23456" });
  const links = () => {
    try {
      return store.getRelationships(sysRef, undefined, "kubernetes.v1.RegisteredAs");
    } catch (e) {
      if (e instanceof RelationshipsNotFoundError) return [];
      throw e;
    }
  };
  expect((await hg.refresh()).linked).toBe(false);
  expect(links()).toEqual([]);
  cluster = "prod";
  await hg.relink();
  const l = links();
  expect(l.length).toBe(1);
  expect(l[0]!.object).toMatchObject({
    typeUrl: "k8s.io.api.core.v1.Node",
    name: "worker-1",
    namespace: { namespace: { case: "kube", value: { cluster: "prod", namespace: "" } } },
  });
  expect(store.getRelationships(undefined, sysRef, "kubernetes.v1.Underlying").length).toBe(1);
  const r = await hg.refresh();
  expect(r.linked).toBe(true);
  expect(r.relationshipsAdded + r.relationshipsDeleted).toBe(0);
  // the Node arriving in the store under the same key changes nothing
  store.updateResource(kubeNode("worker-1", "prod"));
  const again = await hg.refresh();
  expect(again.relationshipsAdded + again.relationshipsDeleted).toBe(0);
  expect(links().length).toBe(1);
});

describe("component", () => {
  test("publishes at start and again every interval; stop ends the timer", async () => {
    const fx = copyFixture("laptop");
    const dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), "hostgraph-store-"));
    const store = openStore({ dataDirectory, logger: silentLogger });
    let calls = 0;
    const real = createHardwareCollectors(fx.paths);
    const hg: HostGraphComponent = createHostGraphComponent({
      store,
      paths: fx.paths,
      intervalMs: 40,
      nodeName: "n",
      logger: silentLogger,
      collectors: {
        ...real,
        cpu_info: {
          collect: (s) => {
            calls++;
            return real.cpu_info.collect(s);
          },
        },
      },
    });
    try {
      expect(hg.isReady()).toBe(false);
      expect(hg.required).toBe(false);
      await hg.start();
      expect(hg.isReady()).toBe(true);
      expect(store.listResources([{ kind: "", type: "antimetal.hardware.v1.SystemNode" } as never]).length).toBe(1);
      await until(() => calls >= 3);
      await hg.stop(AbortSignal.timeout(1000));
      const n = calls;
      await Bun.sleep(120);
      expect(calls).toBe(n);
    } finally {
      store.close();
      fs.rmSync(dataDirectory, { recursive: true, force: true });
      fx.cleanup();
    }
  });
});
