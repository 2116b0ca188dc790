// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Tests of the store on disk: WAL settings and reopen, corrupt-file recovery, the read-only `store`
// command beside a writer, live subscribers, closed descriptors, and worker-thread WAL checkpoints.

import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { closeSync, existsSync, openSync, readdirSync, readlinkSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { create, fromBinary } from "@bufbuild/protobuf";
import { createLogger, silentLogger } from "../../src/log/logger.ts";
import { TypeDescriptorSchema } from "../../src/proto/gen/resource/v1/object_pb.ts";
import { ResourceSchema } from "../../src/proto/gen/resource/v1/resource_pb.ts";
import { runStoreCommand } from "../../src/store/cli.ts";
import { createStoreComponent, openStore, type StoreEvent, storePath } from "../../src/store/index.ts";
import { CORE, contains, kubeRef, NODE, POD, resource, tempDir } from "./fixtures.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});
function dir(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}
function captureLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: createLogger({ destination: sink }), lines };
}

test("file store: WAL + synchronous set explicitly, state and outbox survive reopen, layout <dir>/resource/store.db", () => {
  const d = dir();
  const s = openStore({ dataDirectory: d, logger: silentLogger });
  expect(s.db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
  expect(s.db.query("PRAGMA synchronous").get()).toEqual({ synchronous: 1 }); // NORMAL
  expect((s.db.query("PRAGMA busy_timeout").get() as { timeout: number }).timeout).toBe(5000);
  s.addResource(resource(POD, "p1"));
  s.addRelationships(contains(kubeRef(POD, "p1"), kubeRef(NODE, "n1")));
  s.close();
  s.close(); // idempotent
  expect(existsSync(join(d, "resource", "store.db"))).toBe(true);
  const s2 = openStore({ dataDirectory: d, logger: silentLogger, synchronous: "FULL" });
  expect(s2.db.query("PRAGMA synchronous").get()).toEqual({ synchronous: 2 });
  expect(s2.getResource(kubeRef(POD, "p1")).metadata!.name).toBe("p1");
  expect(s2.getRelationships(kubeRef(POD, "p1"))).toHaveLength(1);
  expect(s2.outbox.stats("cluster").depth).toBe(2);
  // seq keeps increasing across reopen
  const before = s2.outbox.read("cluster", 0, 10).at(-1)!.seq;
  s2.updateResource(resource(POD, "p2"));
  expect(s2.outbox.read("cluster", before, 10)[0]!.seq).toBeGreaterThan(before);
  s2.close();
});

test("corrupt file: moved aside with a clear log line, a fresh store starts, no crash loop", () => {
  const d = dir();
  const s = openStore({ dataDirectory: d, logger: silentLogger });
  for (let i = 0; i < 300; i++) s.addResource(resource(POD, `p${i}`, "", 512));
  s.db.run("PRAGMA wal_checkpoint(TRUNCATE)");
  s.close();
  // clobber pages in the middle of the file (not the header): the integrity check finds it
  const file = storePath(d);
  const size = statSync(file).size;
  const fd = openSync(file, "r+");
  for (let off = 4096 * 3; off < size - 4096; off += 4096 * 7) writeSync(fd, Buffer.alloc(600, 0xa5), 0, 600, off + 100);
  closeSync(fd);
  const { logger, lines } = captureLogger();
  const fresh = openStore({ dataDirectory: d, logger });
  expect(fresh.counts()).toEqual({ resources: 0, relationships: 0 });
  fresh.addResource(resource(POD, "after"));
  fresh.close();
  const log = lines.join("");
  expect(log).toContain("store file unusable; moved aside");
  expect(log).toContain('"level":"error"');
  expect(readdirSync(join(d, "resource")).some((n) => n.startsWith("store.db.corrupt-"))).toBe(true);

  // not a database at all; and repeated corruption keeps at most 2 old files
  for (let k = 0; k < 3; k++) {
    writeFileSync(file, "this is not sqlite".repeat(500));
    for (const suffix of ["-wal", "-shm"]) if (existsSync(file + suffix)) writeFileSync(file + suffix, "");
    const again = openStore({ dataDirectory: d, logger: silentLogger });
    again.addResource(resource(POD, "ok"));
    again.close();
  }
  const kept = readdirSync(join(d, "resource")).filter((n) => n.startsWith("store.db.corrupt-") && !/-(wal|shm)$/.test(n));
  expect(kept.length).toBe(2);

  // a newer schema version is treated the same way (an older agent after a rollback)
  const db = new Database(file);
  db.run("PRAGMA user_version = 99");
  db.close();
  const downgraded = openStore({ dataDirectory: d, logger: silentLogger });
  expect(downgraded.counts().resources).toBe(0);
  downgraded.close();
});

test("store command reads a data directory read-only while the agent writes", async () => {
  const d = dir();
  const s = openStore({ dataDirectory: d, logger: silentLogger });
  const comp = createStoreComponent(s);
  await comp.start();
  expect(comp.isReady()).toBe(true);
  s.addResource(resource(POD, "p1"));
  s.addResource(resource(CORE, "cpu0"));
  s.addRelationships(contains(kubeRef(POD, "p1"), kubeRef(NODE, "n1")));
  const res = await runStoreCommand({ command: "resources", type: "k8s.io" }, { dataDirectory: d });
  expect(res.exitCode).toBe(0);
  const out = JSON.parse(res.output);
  expect(out.count).toBe(1);
  expect(out.resources[0].key).toBe(`${POD}/${Buffer.from("kube/c1/default/p1").toString("base64")}`);
  expect(out.resources[0].resource.metadata.name).toBe("p1");
  expect(out.resources[0].resource.spec["@type"]).toBe(POD); // unknown Any printed raw

  const subj = out.resources[0].key;
  const rels = JSON.parse((await runStoreCommand({ command: "relationships", subject: subj }, { dataDirectory: d })).output);
  expect(rels.count).toBe(1);
  expect(rels.relationships[0].predicate).toBe("kubernetes.v1.Contains");
  expect(rels.relationships[0].relationship.predicate["@type"]).toBe("type.googleapis.com/kubernetes.v1.Contains");
  expect(
    JSON.parse((await runStoreCommand({ command: "relationships", predicate: "kubernetes.v1.Owns" }, { dataDirectory: d })).output).count,
  ).toBe(0);
  expect(JSON.parse((await runStoreCommand({ command: "relationships" }, { dataDirectory: d })).output).count).toBe(1);

  // writes after the reader opened are visible to the next command; writer never blocked
  s.batch(() => {
    for (let i = 0; i < 100; i++) s.updateResource(resource(POD, `x${i}`));
  });
  const stats = JSON.parse((await runStoreCommand({ command: "stats" }, { dataDirectory: d })).output);
  expect(stats).toMatchObject({ resources: 102, relationships: 1, schemaVersion: 2 });
  expect(stats.outbox.cluster.depth).toBe(102);
  expect(stats.outbox.instance.depth).toBe(1);
  expect(stats.fileBytes.db).toBeGreaterThan(0);

  // usage errors (exit 2: "store bogus", "store resources --nope x") are the CLI parser's: src/cli/store.test.ts, test/agent/binary.test.ts
  expect((await runStoreCommand({ command: "stats" }, { dataDirectory: join(d, "missing") })).exitCode).toBe(1);
  await comp.stop(new AbortController().signal);
  expect(comp.isReady()).toBe(false);
  // and after the agent stopped (no -wal/-shm left behind)
  expect(JSON.parse((await runStoreCommand({ command: "stats" }, { dataDirectory: d })).output).resources).toBe(102);
});

test("concurrent subscriber with live writes from async batches: no gap, no duplicate", async () => {
  const d = dir();
  const s = openStore({ dataDirectory: d, logger: silentLogger });
  cleanups.push(() => s.close());
  const N = 8000;
  const ops = Array.from({ length: N }, (_, i) => ({ op: "update" as const, resource: resource(POD, `p${i}`, "r0") }));
  const writer = s.applyAsync(ops, { chunkSize: 100 });
  // subscribe at several points while the writer runs; each one must see every object exactly once
  // as ADD (snapshot or live), and then every later update.
  const seen: Map<string, number>[] = [];
  const snapshotSizes: number[] = [];
  for (let k = 0; k < 5; k++) {
    await Bun.sleep(1 + k);
    const m = new Map<string, number>();
    seen.push(m);
    let first = true;
    s.subscribe([create(TypeDescriptorSchema, { type: "k8s.io" })], (e: StoreEvent) => {
      if (e.type !== "ADD") throw new Error(`unexpected ${e.type}`);
      if (first) snapshotSizes.push(e.objs.length);
      first = false;
      for (const o of e.objs) {
        const name = fromBinary(ResourceSchema, o.object!.value).metadata!.name;
        m.set(name, (m.get(name) ?? 0) + 1);
      }
    });
  }
  await writer;
  await Bun.sleep(5);
  // the subscriptions really happened mid-write: their snapshots differ and are partial
  expect(new Set(snapshotSizes).size).toBeGreaterThan(1);
  expect(Math.min(...snapshotSizes)).toBeLessThan(N);
  for (const m of seen) {
    expect(m.size).toBe(N);
    expect([...m.values()].every((n) => n === 1)).toBe(true);
  }
});

test("close releases the file: no descriptor of the store stays open", () => {
  const d = dir();
  const s = openStore({ dataDirectory: d, logger: silentLogger });
  s.addResource(resource(POD, "p1"));
  const fds = () =>
    readdirSync("/proc/self/fd").filter((f) => {
      try {
        return readlinkSync(`/proc/self/fd/${f}`).startsWith(d);
      } catch {
        return false;
      }
    }).length;
  expect(fds()).toBeGreaterThan(0);
  s.close();
  expect(fds()).toBe(0);
});

const autocheckpoint = (s: ReturnType<typeof openStore>) =>
  (s.db.query("PRAGMA wal_autocheckpoint").get() as { wal_autocheckpoint: number }).wal_autocheckpoint;

test("an idle store has no checkpoint worker; one second with 256 rows written starts it", async () => {
  const s = openStore({ dataDirectory: dir(), logger: silentLogger });
  cleanups.push(() => s.close());
  for (let i = 0; i < 20; i++) s.updateResource(resource(POD, `idle${i}`, "", 64)); // a few writes a second
  await Bun.sleep(1300);
  expect(s.checkpointStats?.healthy).toBe(false);
  expect(autocheckpoint(s)).toBe(256); // the main connection checkpoints every ~1 MiB meanwhile
  s.batch(() => {
    for (let i = 0; i < 300; i++) s.updateResource(resource(POD, `busy${i}`, "", 64));
  });
  for (let i = 0; i < 300 && !s.checkpointStats?.healthy; i++) await Bun.sleep(10); // next check, then the worker's start
  expect(s.checkpointStats?.healthy).toBe(true);
  expect(autocheckpoint(s)).toBe(4096);
});

test("WAL checkpoints run in a worker thread: a long applyAsync burst keeps the WAL bounded", async () => {
  const d = dir();
  const s = openStore({ dataDirectory: d, logger: silentLogger });
  cleanups.push(() => s.close());
  const ops = Array.from({ length: 30_000 }, (_, i) => ({ op: "update" as const, resource: resource(POD, `p${i}`, "", 1024) }));
  await s.applyAsync(ops); // a burst of 2048 operations or more starts the worker at once
  expect(s.checkpointStats?.healthy).toBe(true);
  expect(autocheckpoint(s)).toBe(4096);
  for (let i = 0; i < 300 && s.checkpointStats!.checkpoints === 0; i++) await Bun.sleep(10);
  expect(s.checkpointStats!.checkpoints).toBeGreaterThan(0);
  // 30k x 1 KiB objects is ~40 MiB of pages; drains keep the WAL near 8 MiB, below the 16 MiB backstop
  expect(statSync(`${storePath(d)}-wal`).size).toBeLessThan(20 * 1024 * 1024);
  expect(s.counts().resources).toBe(30_000);
});
