// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Store benchmark. Prints one JSON object. Each figure sits beside its anchor measured in the same
// run: raw bun:sqlite doing the same inserts/reads (WAL, synchronous=NORMAL, same batch size, one
// table with a unique key and a 1 KiB blob, prepared statements) — what the store costs on top —
// and, for inserts, raw bun:sqlite running the store's own statements on its DDL (SQLite's limit).
// Over 400 lines: each figure and its anchor are kept side by side so one run measures both.
//
//   bun bench/store/run.ts                 full run (1M objects for RSS/disk, 1M triples)
//   STORE_BENCH_SCALE=0.1 bun bench/store/run.ts   a 10x smaller run
//   STORE_BENCH_LAYOUTS=0 bun bench/store/run.ts relationships 1000000   one phase, without the layouts
//
// Phases run in child processes so that RSS is per phase, not cumulative.
//
// Latencies (latencies(), interleaved()): every call is one sample (20,000 per relationship query,
// after 2,000 warm-up calls of the same query that are not counted); p50/p99 of wall
// time, and of this thread's CPU time (CLOCK_THREAD_CPUTIME_ID: what the call cost without the
// time it waited for a core, which on a shared machine sets the wall p99); `gc_calls` counts the
// calls during which the heap size JSC reports fell (a collection finished inside the call: a lower
// bound, a collection that frees less than the call allocated is not seen), `load` is the load
// average at the phase's start and end.

import { dlopen, FFIType, ptr } from "bun:ffi";
import { heapSize } from "bun:jsc";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary } from "@bufbuild/protobuf";
import { AnySchema, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { silentLogger } from "../../src/log/logger.ts";
import { RelationshipSchema } from "../../src/proto/gen/resource/v1/relationship_pb.ts";
import { type Resource, type ResourceRef, ResourceRefSchema, ResourceSchema } from "../../src/proto/gen/resource/v1/resource_pb.ts";
import { encodeResourceKey, openStore, storePath } from "../../src/store/index.ts";
import { decodeRelationship, decodeRelationships } from "../../src/store/relationship-decode.ts";
import { MIGRATIONS } from "../../src/store/schema.ts";
import { layoutCost } from "./layouts.ts";

const SCALE = Number(process.env.STORE_BENCH_SCALE ?? "1");
const BATCH = 500;
const POD = "k8s.io.api.core.v1.Pod";

function ns(name: string) {
  return { namespace: { case: "kube" as const, value: { cluster: "bench", namespace: `ns${name.length % 7}` } } };
}
function pod(i: number, rev = 0): Resource {
  const name = `pod-${i}`;
  return create(ResourceSchema, {
    type: { kind: "resource.v1.Resource", type: POD },
    metadata: { name, namespace: ns(name), region: `r${rev}` },
    spec: { typeUrl: POD, value: new Uint8Array(900).fill(97 + (rev % 26)) },
  });
}
function podRef(i: number): ResourceRef {
  const name = `pod-${i}`;
  return create(ResourceRefSchema, { typeUrl: POD, name, namespace: ns(name) });
}
/** This process's CPU time (user+sys), ms: steadier than wall time on a shared machine. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const rss = () => Math.round(process.memoryUsage().rss / 1048576);
function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}
const libc = dlopen("libc.so.6", { clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 } });
const timespec = new BigInt64Array(2);
const timespecPtr = ptr(timespec);
/** This thread's CPU time (CLOCK_THREAD_CPUTIME_ID), us. */
function threadCpuUs(): number {
  libc.symbols.clock_gettime(3, timespecPtr);
  return Number(timespec[0]) * 1e6 + Number(timespec[1]) / 1000;
}
type Latency = { p50_us: number; p99_us: number; cpu_p50_us: number; cpu_p99_us: number; gc_calls: number; ops_per_s: number };
const WARM_UP = 2000;
/** Samples of one operation: wall and thread CPU time per call (us), calls with a collection in them, total wall ms. */
class Samples {
  wall: number[];
  cpu: number[];
  gc = 0;
  totalMs = 0;
  constructor(readonly n: number) {
    this.wall = new Array(n);
    this.cpu = new Array(n);
  }
  run(i: number, f: (i: number) => void): void {
    const h = heapSize();
    const c = threadCpuUs();
    const a = performance.now();
    f(i);
    const d = performance.now() - a;
    this.cpu[i] = threadCpuUs() - c;
    if (heapSize() < h) this.gc++;
    this.wall[i] = d * 1000;
    this.totalMs += d;
  }
  result(): Latency {
    const w = this.wall.sort((a, b) => a - b);
    const c = this.cpu.sort((a, b) => a - b);
    const r = (x: number) => +x.toFixed(1);
    return {
      p50_us: r(pct(w, 50)),
      p99_us: r(pct(w, 99)),
      cpu_p50_us: r(pct(c, 50)),
      cpu_p99_us: r(pct(c, 99)),
      gc_calls: this.gc,
      ops_per_s: Math.round(this.n / (this.totalMs / 1000)),
    };
  }
}
/** `n` calls of f(0..n-1), after `warm` calls of f(n..n+warm-1) not counted. */
function latencies(n: number, f: (i: number) => void, warm = Math.min(WARM_UP, n)): Latency {
  for (let i = 0; i < warm; i++) f(n + i);
  const s = new Samples(n);
  for (let i = 0; i < n; i++) s.run(i, f);
  return s.result();
}
/** Like latencies() for several operations run in turn, one call of each per round (anchors interleaved with what they anchor). */
function interleaved<K extends string>(n: number, fs: Record<K, (i: number) => void>): Record<K, Latency> {
  const names = Object.keys(fs) as K[];
  for (let i = 0; i < WARM_UP; i++) for (const k of names) fs[k](n + i);
  const s = names.map(() => new Samples(n));
  for (let i = 0; i < n; i++) for (let k = 0; k < names.length; k++) s[k]!.run(i, fs[names[k]!]);
  return Object.fromEntries(names.map((name, k) => [name, s[k]!.result()])) as Record<K, Latency>;
}
function fileBytes(p: string): number {
  let n = 0;
  for (const s of ["", "-wal"]) {
    try {
      n += statSync(p + s).size;
    } catch {}
  }
  return n;
}

/** Raw anchor: plain bun:sqlite on a rowid table with a unique key and 1 KiB blobs, same batches. */
function rawOpen(dir: string): Database {
  const db = new Database(join(dir, "raw.db"), { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run("CREATE TABLE obj(id INTEGER PRIMARY KEY, key TEXT UNIQUE, type TEXT, body BLOB)");
  return db;
}

// -------- phase: throughput (upserts with outbox, updates, reads, outbox drain) --------
async function phaseThroughput(n: number) {
  const dir = mkdtempSync(join(tmpdir(), "store-bench-"));
  try {
    const store = openStore({ dataDirectory: dir, logger: silentLogger });
    const raw = rawOpen(dir);
    const rawUpsert = raw.prepare("INSERT INTO obj(key, type, body) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET body = excluded.body");
    const rawGet = raw.prepare("SELECT body FROM obj WHERE key = ?");
    const rawTx = raw.transaction((f: () => void) => f());
    const { toBinary, fromBinary } = await import("@bufbuild/protobuf");
    // SQLite's own limit for the store's writes: raw bun:sqlite on the store's DDL running the same
    // statements per new object (key lookup, resources insert, outbox insert) with the same JS
    // work to make the key and the body (timestamps included, so the same bytes), WAL +
    // synchronous=NORMAL + the same cache and WAL size limit, SQLite's default checkpointing
    // (inline, every 1000 pages; the store does the same work on its checkpoint thread, and
    // cpu_us_per_op counts every thread): what is left is SQLite and protobuf.
    const same = new Database(join(dir, "raw-same.db"), { create: true, strict: true });
    same.run("PRAGMA journal_mode = WAL");
    same.run("PRAGMA synchronous = NORMAL");
    same.run("PRAGMA cache_size = -16384");
    same.run("PRAGMA journal_size_limit = 67108864");
    for (const m of MIGRATIONS) same.run(m);
    const sameGet = same.prepare("SELECT rid, created_at, updated_at, body, type, channel FROM resources WHERE key = ?");
    const sameIns = same.prepare(
      "INSERT INTO resources(key, kind, type, channel, created_at, updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    const sameOb = same.prepare(
      `INSERT INTO outbox(seq, channel, key, entity, op, rid, body, bytes, enqueued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(channel, key) DO NOTHING`,
    );
    const sameTx = same.transaction((a: number, b: number, base: number) => {
      for (let j = a; j < b; j++) {
        const r = pod(base + j);
        const key = encodeResourceKey(podRef(base + j));
        sameGet.values(key);
        const now = Date.now() * 1000;
        r.metadata!.createdAt = timestampFromMs(now / 1000);
        r.metadata!.updatedAt = r.metadata!.createdAt;
        const body = toBinary(ResourceSchema, r);
        const rid = Number(sameIns.run(key, "resource.v1.Resource", POD, "cluster", now, now, body).lastInsertRowid);
        sameOb.run(base + j, "cluster", key, 0, 0, rid, null, body.length + 60, now);
      }
    });
    const sameInserts = (base: number, count: number) => {
      const c0 = cpuMs();
      const t = performance.now();
      for (let i = 0; i < count; i += BATCH) sameTx(i, Math.min(count, i + BATCH), base);
      const ms = performance.now() - t;
      return { per_s: Math.round(count / (ms / 1000)), cpu_us_per_op: +(((cpuMs() - c0) * 1000) / count).toFixed(2) };
    };
    sameInserts(10 * n, 4000); // warm-up on keys outside every measured range

    // warm up both paths (JIT) on keys outside the measured range
    for (let i = 0; i < 4000; i += BATCH) {
      store.batch(() => {
        for (let j = i; j < i + BATCH; j++) store.updateResource(pod(n + j));
      });
      rawTx(() => {
        for (let j = i; j < i + BATCH; j++) {
          const r = pod(n + j);
          rawUpsert.run(encodeResourceKey(podRef(n + j)), POD, toBinary(ResourceSchema, r));
        }
      });
    }

    const run = (label: string, rev: number, storeSide: boolean) => {
      let maxBatchMs = 0;
      const c0 = cpuMs();
      const t = performance.now();
      for (let i = 0; i < n; i += BATCH) {
        const end = Math.min(n, i + BATCH);
        const b = performance.now();
        if (storeSide) {
          store.batch(() => {
            for (let j = i; j < end; j++) store.updateResource(pod(j, rev));
          });
        } else {
          rawTx(() => {
            for (let j = i; j < end; j++) rawUpsert.run(encodeResourceKey(podRef(j)), POD, toBinary(ResourceSchema, pod(j, rev)));
          });
        }
        maxBatchMs = Math.max(maxBatchMs, performance.now() - b);
      }
      const ms = performance.now() - t;
      return {
        [label]: Math.round(n / (ms / 1000)),
        cpu_us_per_op: +(((cpuMs() - c0) * 1000) / n).toFixed(2),
        max_batch_ms: +maxBatchMs.toFixed(1),
      };
    };
    const insertStore = run("per_s", 0, true);
    const insertSame = sameInserts(0, n);
    same.close();
    const insertRaw = run("per_s", 0, false);
    const updateStore = run("per_s", 1, true);
    const updateRaw = run("per_s", 1, false);
    // unchanged content (informer resync): the store writes nothing
    const unchangedStore = run("per_s", 1, true);

    // point reads (decode included on the store side; raw returns the blob)
    const reads = Math.min(n, 200_000);
    const readStore = latencies(reads, (i) => store.getResource(podRef((i * 7919) % n)));
    const readRaw = latencies(reads, (i) => rawGet.values(encodeResourceKey(podRef((i * 7919) % n))));
    const readRawDecode = latencies(reads, (i) =>
      fromBinary(ResourceSchema, (rawGet.values(encodeResourceKey(podRef((i * 7919) % n)))[0] as [Uint8Array])[0]),
    );

    // outbox drain: read 500 + confirm 500, until empty (n entries pending from the inserts/updates)
    const depth = store.outbox.stats("cluster").depth;
    const td = performance.now();
    let drained = 0;
    for (;;) {
      const page = store.outbox.read("cluster", 0, BATCH);
      if (page.length === 0) break;
      drained += store.outbox.confirm("cluster", page);
    }
    const drainMs = performance.now() - td;

    // append+drain steady state: one batch of updates, then drain it, repeatedly
    const rounds = Math.max(1, Math.floor(n / BATCH / 4));
    const ts = performance.now();
    for (let r = 0; r < rounds; r++) {
      store.batch(() => {
        for (let j = 0; j < BATCH; j++) store.updateResource(pod(r * BATCH + j, 2 + r));
      });
      const page = store.outbox.read("cluster", 0, BATCH);
      store.outbox.confirm("cluster", page);
    }
    const steadyMs = performance.now() - ts;

    // applyAsync of a 20k-object sync: how long is the event loop blocked at a time (1 ms timer gaps)
    const asyncOps = Array.from({ length: Math.min(n, 20_000) }, (_, i) => ({ op: "update" as const, resource: pod(i, 100) }));
    Bun.gc(true);
    const gaps: number[] = [];
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      gaps.push(now - last);
      last = now;
    }, 1);
    const ta = performance.now();
    await store.applyAsync(asyncOps);
    const asyncMs = performance.now() - ta;
    clearInterval(timer);
    gaps.sort((a, b) => a - b);

    const file = storePath(dir);
    const out = {
      objects: n,
      batch: BATCH,
      resource_bytes: toBinary(ResourceSchema, pod(0)).length,
      insert_per_s: {
        store_with_outbox: insertStore.per_s,
        raw_sqlite: insertRaw.per_s,
        ratio: +(insertStore.per_s! / insertRaw.per_s!).toFixed(2),
        cpu_us_per_op: { store_with_outbox: insertStore.cpu_us_per_op, raw_sqlite: insertRaw.cpu_us_per_op },
        store_per_s_from_cpu_time: Math.round(1e6 / insertStore.cpu_us_per_op),
        raw_sqlite_same_writes: insertSame.per_s,
        raw_sqlite_same_writes_cpu_us_per_op: insertSame.cpu_us_per_op,
        store_over_same_writes: +(insertStore.per_s! / insertSame.per_s).toFixed(2),
      },
      update_per_s: {
        store_with_outbox: updateStore.per_s,
        raw_sqlite: updateRaw.per_s,
        ratio: +(updateStore.per_s! / updateRaw.per_s!).toFixed(2),
        cpu_us_per_op: { store_with_outbox: updateStore.cpu_us_per_op, raw_sqlite: updateRaw.cpu_us_per_op },
      },
      unchanged_update_per_s: unchangedStore.per_s,
      max_sync_batch_ms: Math.max(insertStore.max_batch_ms, updateStore.max_batch_ms),
      apply_async: {
        objects: asyncOps.length,
        per_s: Math.round(asyncOps.length / (asyncMs / 1000)),
        event_loop_gap_ms: { p50: +pct(gaps, 50).toFixed(1), p99: +pct(gaps, 99).toFixed(1), max: +gaps.at(-1)!.toFixed(1) },
      },
      checkpointer: store.checkpointStats,
      point_read: { store_getResource: readStore, raw_select: readRaw, raw_select_plus_decode: readRawDecode },
      outbox_drain: { entries: drained, depth_before: depth, entries_per_s: Math.round(drained / (drainMs / 1000)) },
      outbox_append_plus_drain_per_s: Math.round((rounds * BATCH) / (steadyMs / 1000)),
      disk_bytes: { store: fileBytes(file), raw_sqlite: fileBytes(join(dir, "raw.db")) },
    };
    store.close();
    raw.close();
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// -------- phase: relationship queries at N triples --------
function phaseRelationships(triples: number) {
  const dir = mkdtempSync(join(tmpdir(), "store-bench-rel-"));
  const loadStart = loadavg()[0]!;
  try {
    const store = openStore({ dataDirectory: dir, logger: silentLogger });
    // subjects: triples/10 pods, each with 10 edges to objects among triples/100 nodes; 8 common
    // predicates plus one rare one (1 in 10,000 triples)
    const subjects = Math.max(10, Math.floor(triples / 10));
    const objects = Math.max(10, Math.floor(triples / 100));
    const preds = ["Contains", "ContainedBy", "Owns", "OwnedBy", "VolumeMount", "AttachedTo", "BoundBy", "ClaimsFrom"].map((p) =>
      create(AnySchema, { typeUrl: `type.googleapis.com/kubernetes.v1.${p}` }),
    );
    const rare = create(AnySchema, { typeUrl: "type.googleapis.com/kubernetes.v1.RegisteredAs" });
    const nodeRef = (k: number) => create(ResourceRefSchema, { typeUrl: "k8s.io.api.core.v1.Node", name: `node-${k}`, namespace: ns("x") });
    const t0 = performance.now();
    const cpu0 = cpuMs();
    let k = 0;
    while (k < triples) {
      store.batch(() => {
        const rels = [];
        for (let j = 0; j < BATCH && k < triples; j++, k++) {
          const s = Math.floor(k / 10);
          const pred = k % 10_000 === 0 ? rare : preds[k % preds.length]!;
          rels.push(
            create(RelationshipSchema, {
              type: { kind: "resource.v1.Relationship", type: pred.typeUrl.slice(20) },
              subject: podRef(s),
              object: nodeRef((k * 31) % objects),
              predicate: pred,
            }),
          );
        }
        store.addRelationships(...rels);
      });
    }
    const insertMs = performance.now() - t0;
    const Q = 20_000;
    const rnd = (i: number, m: number) => (i * 2654435761) % m;
    // the store's checkpoint thread is still copying the insert burst's WAL into the file: finish
    // that first, so every read below (store and raw) sees the same file and none competes with it
    const cp = new Database(storePath(dir));
    cp.run("PRAGMA busy_timeout = 60000");
    cp.run("PRAGMA wal_checkpoint(TRUNCATE)");
    cp.close();
    // CPU of every thread of the process from the first insert to the checkpointed file (steadier
    // than the wall rate on a shared machine)
    const insertCpuUs = ((cpuMs() - cpu0) * 1000) / triples;
    const raw = new Database(storePath(dir), { readonly: true });
    // the store's by-object read (schema 2: the object-clustered copy, through the interned key)
    const rawByObject = raw.prepare("SELECT body FROM relationships_by_object WHERE object = (SELECT kid FROM rel_keys WHERE key = ?)");
    const sample = Array.from({ length: 20 }, (_, i) => rawByObject.values(encodeResourceKey(nodeRef(rnd(i, objects)))) as [Uint8Array][]);
    // the same bodies as the store's by-endpoint statements return them: one buffer and the lengths
    const sampleConcat = sample.map((rows): [Uint8Array, string] => [
      Buffer.concat(rows.map((r) => r[0])),
      rows.map((r) => r[0].length).join(","),
    ]);
    // NotFound is an answer too (the API throws it for an empty result)
    const q = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if ((e as Error).name !== "RelationshipsNotFoundError") throw e;
      }
    };
    const out = {
      triples,
      insert_per_s: Math.round(triples / (insertMs / 1000)),
      insert_cpu_us_per_triple: +insertCpuUs.toFixed(1),
      by_subject_10_rows: latencies(Q, (i) => store.getRelationships(podRef(rnd(i, subjects)))),
      by_subject_rows_undecoded: latencies(Q, (i) => store.relationshipRows({ subjectKey: encodeResourceKey(podRef(rnd(i, subjects))) })),
      by_object_rows_undecoded: latencies(Q, (i) => store.relationshipRows({ objectKey: encodeResourceKey(nodeRef(rnd(i, objects))) })),
      // the store's by-object read and the raw anchor, interleaved query by query (each one's
      // garbage can set off a collection inside the other)
      ...interleaved(Q, {
        by_object_100_rows: (i) => store.getRelationships(undefined, nodeRef(rnd(i, objects))),
        raw_sqlite_by_object_bodies: (i) => rawByObject.values(encodeResourceKey(nodeRef(rnd(i, objects)))),
      }),
      by_subject_and_predicate: latencies(Q, (i) =>
        q(() => store.getRelationships(podRef(rnd(i, subjects)), undefined, "kubernetes.v1.Owns")),
      ),
      by_object_and_predicate: latencies(Q, (i) =>
        q(() => store.getRelationships(undefined, nodeRef(rnd(i, objects)), "kubernetes.v1.Owns")),
      ),
      by_predicate_rare: latencies(200, () => store.getRelationships(undefined, undefined, "kubernetes.v1.RegisteredAs")),
      // anchors for by_object_100_rows: raw bun:sqlite on the same file running the same read
      // (through the planner's index choice), and protobuf-es decoding 100 stored bodies
      decode_100_relationships: latencies(2000, (i) => {
        for (const r of sample[i % sample.length]!) fromBinary(RelationshipSchema, r[0]);
      }),
      // what the store's reads use (src/store/relationship-decode.ts), on the same bodies
      decode_100_relationships_store_decoder: latencies(2000, (i) => {
        for (const r of sample[i % sample.length]!) decodeRelationship(r[0]);
      }),
      // what by-endpoint reads use: the bodies in one buffer, repeated sub-messages copied
      decode_100_relationships_one_buffer: latencies(2000, (i) => decodeRelationships(...sampleConcat[i % sampleConcat.length]!)),
      rare_predicate_rows: Math.ceil(triples / 10_000),
      disk_bytes_per_triple: Math.round(fileBytes(storePath(dir)) / triples),
      rss_mib: rss(),
      load: [+loadStart.toFixed(1), +loadavg()[0]!.toFixed(1)],
      // STORE_BENCH_LAYOUTS=0 leaves the layouts out (a shorter run)
      relationship_layouts: process.env.STORE_BENCH_LAYOUTS === "0" ? undefined : layoutCost(Math.min(triples, 200_000), 100, raw, BATCH),
    };
    raw.close();
    store.close();
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// -------- phase: RSS and disk with N objects on disk (store vs raw) --------
function phaseRss(n: number, side: "store" | "raw") {
  const dir = mkdtempSync(join(tmpdir(), "store-bench-rss-"));
  try {
    const start = rss();
    let file: string;
    let reopenRss = 0;
    if (side === "store") {
      const store = openStore({ dataDirectory: dir, logger: silentLogger });
      for (let i = 0; i < n; i += BATCH) {
        store.batch(() => {
          for (let j = i; j < Math.min(n, i + BATCH); j++) store.updateResource(pod(j));
        });
      }
      // read back a spread of objects and a full outbox page walk, as the agent would
      for (let i = 0; i < 50_000; i++) store.getResource(podRef((i * 7919) % n));
      let after = 0;
      for (let p = 0; p < 200; p++) {
        const page = store.outbox.read("cluster", after, 500);
        if (!page.length) break;
        after = page.at(-1)!.seq;
      }
      store.close();
      Bun.gc(true);
      file = storePath(dir);
      // reopen (quick_check over the whole file) and read: RSS of an agent restarting on this store
      const t = performance.now();
      const again = openStore({ dataDirectory: dir, logger: silentLogger });
      const openMs = performance.now() - t;
      for (let i = 0; i < 50_000; i++) again.getResource(podRef((i * 7919) % n));
      Bun.gc(true);
      reopenRss = rss();
      again.close();
      return {
        side,
        objects: n,
        rss_start_mib: start,
        rss_mib: rss(),
        rss_after_reopen_mib: reopenRss,
        open_with_quick_check_ms: Math.round(openMs),
        disk_bytes: fileBytes(file),
        disk_bytes_per_object: Math.round(fileBytes(file) / n),
      };
    }
    const raw = rawOpen(dir);
    const ins = raw.prepare("INSERT INTO obj(key, type, body) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET body = excluded.body");
    const get = raw.prepare("SELECT body FROM obj WHERE key = ?");
    const tx = raw.transaction((f: () => void) => f());
    const { toBinary } = require("@bufbuild/protobuf") as typeof import("@bufbuild/protobuf");
    for (let i = 0; i < n; i += BATCH) {
      tx(() => {
        for (let j = i; j < Math.min(n, i + BATCH); j++) ins.run(encodeResourceKey(podRef(j)), POD, toBinary(ResourceSchema, pod(j)));
      });
    }
    for (let i = 0; i < 50_000; i++) get.values(encodeResourceKey(podRef((i * 7919) % n)));
    Bun.gc(true);
    file = join(dir, "raw.db");
    const out = {
      side,
      objects: n,
      rss_start_mib: start,
      rss_mib: rss(),
      disk_bytes: fileBytes(file),
      disk_bytes_per_object: Math.round(fileBytes(file) / n),
    };
    raw.close();
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function child(args: string[]): Promise<unknown> {
  const p = Bun.spawn([process.execPath, import.meta.path, ...args], { stdout: "pipe", stderr: "inherit", env: process.env });
  const text = await new Response(p.stdout).text();
  if ((await p.exited) !== 0) throw new Error(`bench phase ${args.join(" ")} failed`);
  return JSON.parse(text);
}

const [mode, arg, side] = process.argv.slice(2);
if (mode === "throughput") console.log(JSON.stringify(await phaseThroughput(Number(arg))));
else if (mode === "relationships") console.log(JSON.stringify(phaseRelationships(Number(arg))));
else if (mode === "rss") console.log(JSON.stringify(phaseRss(Number(arg), side as "store" | "raw")));
else {
  const objects = Math.round(1_000_000 * SCALE);
  const t = performance.now();
  const throughput = await child(["throughput", String(Math.round(200_000 * SCALE))]);
  const relationships = await child(["relationships", String(objects)]);
  const rssStore = await child(["rss", String(objects), "store"]);
  const rssRaw = await child(["rss", String(objects), "raw"]);
  const result = {
    bench: "store",
    bun: Bun.version,
    sqlite: new Database(":memory:").query("select sqlite_version() as v").get(),
    scale: SCALE,
    throughput,
    relationships,
    rss_and_disk: { store: rssStore, raw_sqlite: rssRaw },
    targets: {
      upserts_per_s_with_outbox_ge_50k:
        (throughput as { insert_per_s: { store_with_outbox: number } }).insert_per_s.store_with_outbox >= 50_000,
      relationship_lookup_p99_lt_1ms: [
        "by_subject_10_rows",
        "by_object_100_rows",
        "by_subject_and_predicate",
        "by_object_and_predicate",
      ].every((k) => (relationships as Record<string, { p99_us: number }>)[k]!.p99_us < 1000),
      rss_lt_150mib_with_objects_on_disk: (rssStore as { rss_mib: number }).rss_mib < 150,
    },
    seconds: Math.round((performance.now() - t) / 1000),
  };
  console.log(JSON.stringify(result, null, 2));
}
