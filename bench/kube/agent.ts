// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The measured side of bench/kube: the kube controller writing into a file-backed SQLite store,
 * in its own process so RSS and CPU are its own. Prints JSON lines on stdout:
 *   {"type":"idle", rssBytes}                       after imports + store open, before any sync
 *   {"type":"synced", ms, cpuUs, rssBytes, ...}      once every kind listed and the graph is written
 *                                                   (with the event-loop drift probe's maxBlockMs, bigBlocks)
 *   {"type":"subscribed"}                           the commit subscription is in place (the churn starts after it)
 *   {"type":"commit", name, seq, t}                 per pod update committed (seq = label "seq")
 *   {"type":"arrive", name, seq, t}                 per pod update read from the WATCH stream (before the reflector)
 *   {"type":"stall", gapMs, cpuMs, t}               an event-loop gap over 10 ms after the sync (drift probe, 5 ms
 *                                                   ticks) with the main thread's CPU time in it (gap >> cpuMs: not running)
 *                                                   and waitMs: time runnable but waiting for a CPU (schedstat run_delay)
 *   {"type":"txn", ms, t}                           a store transaction over 10 ms after the sync
 * Usage: bun bench/kube/agent.ts <kubeconfig> <data dir>
 */

import { dlopen, FFIType } from "bun:ffi";
import { heapStats } from "bun:jsc";
import * as fs from "node:fs";
import * as path from "node:path";
import { create, fromBinary } from "@bufbuild/protobuf";
import { loadKubeconfig } from "../../src/kube/client/config.ts";
import { createKubeController } from "../../src/kube/controller.ts";
import { readObjectMeta } from "../../src/kube/pb.ts";
import { decodeWatchFrame, FrameSplitter } from "../../src/kube/watch-decoder.ts";
import { createLogger } from "../../src/log/logger.ts";
import { TypeDescriptorSchema } from "../../src/proto/gen/resource/v1/object_pb.ts";
import { ResourceSchema } from "../../src/proto/gen/resource/v1/resource_pb.ts";
import { openStore } from "../../src/store/index.ts";

const [kubeconfig, dataDir] = process.argv.slice(2) as [string, string];
const logger = createLogger({ level: "warn" });
// knobs for experiments: BENCH_CACHE_KIB (store page cache), BENCH_WRITE_CHUNK (objects per transaction)
const cacheKiB = process.env.BENCH_CACHE_KIB ? Number(process.env.BENCH_CACHE_KIB) : undefined;
const writeChunk = process.env.BENCH_WRITE_CHUNK ? Number(process.env.BENCH_WRITE_CHUNK) : undefined;
const store = openStore({ dataDirectory: dataDir, logger, cacheKiB });
const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + "\n");

function rss(): number {
  Bun.gc(true);
  return process.memoryUsage().rss;
}

out({ type: "idle", rssBytes: rss() });

// arrival of each pod update on the WATCH stream, before the reflector sees it: a copy of the
// stream's chunks is split and decoded here (the split of the lag into apiserver -> agent and
// agent -> commit)
const realFetch = globalThis.fetch;
globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
  const res = await realFetch(input, init);
  const url = String(input instanceof Request ? input.url : input);
  if (!url.includes("/api/v1/pods?") || !url.includes("watch=1") || !res.body) return res;
  const frames = new FrameSplitter();
  const body = res.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        if (afterSync) {
          const t = performance.timeOrigin + performance.now();
          for (const f of frames.push(chunk)) {
            const ev = decodeWatchFrame(f);
            if (ev.type !== "MODIFIED") continue;
            const meta = readObjectMeta(ev.object);
            const seq = meta.labels.find(([k]) => k === "seq")?.[1];
            if (seq && seq !== "0") out({ type: "arrive", name: meta.name, seq, t });
          }
        }
        ctl.enqueue(chunk);
      },
    }),
  );
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}) as typeof fetch;
let afterSync = false;
let synced = false;
const realBatch = store.batch.bind(store);
store.batch = (<T>(fn: () => T): T => {
  if (!afterSync) return realBatch(fn);
  const t = performance.now();
  try {
    return realBatch(fn);
  } finally {
    const ms = performance.now() - t;
    if (ms > 10) out({ type: "txn", ms, t: performance.timeOrigin + t });
  }
}) as typeof store.batch;
// event-loop drift probe: the longest gap between 5 ms ticks during the initial sync
let maxBlockMs = 0;
const blocks: number[] = [];
const bigBlocks: Array<[number, number]> = []; // [gap ms, ms since start] of gaps over 50 ms
const t0 = performance.now();
let lastTick = t0;
// CLOCK_THREAD_CPUTIME_ID of the main thread (the probe runs on it)
const libc = dlopen("libc.so.6", { clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 } });
const ts = new BigInt64Array(2);
const threadCpuMs = () => {
  libc.symbols.clock_gettime(3, ts);
  return Number(ts[0]!) * 1000 + Number(ts[1]!) / 1e6;
};
let lastCpu = threadCpuMs();
// run_delay of the main thread (ns spent runnable but waiting for a CPU), from its schedstat
const runDelayMs = () => Number(fs.readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[1]) / 1e6;
let lastDelay = Number.NaN; // read only after the sync
setInterval(() => {
  const now = performance.now();
  const gap = now - lastTick - 5;
  lastTick = now;
  const cpuNow = threadCpuMs();
  const cpuMs = cpuNow - lastCpu;
  lastCpu = cpuNow;
  const delayNow = afterSync ? runDelayMs() : Number.NaN;
  const waitMs = Number.isNaN(lastDelay) ? 0 : delayNow - lastDelay;
  lastDelay = delayNow;
  if (!synced) blocks.push(gap);
  if (gap > 50) bigBlocks.push([Math.round(gap), Math.round(now - t0)]);
  if (gap > maxBlockMs) maxBlockMs = gap;
  if (afterSync && gap > 10) out({ type: "stall", gapMs: gap, cpuMs, waitMs, t: performance.timeOrigin + now });
}, 5);
const cpu0 = process.cpuUsage();
const ctl = createKubeController({
  config: await loadKubeconfig([kubeconfig]),
  store,
  logger,
  leaderElect: false,
  provider: "generic",
  providerOptions: { clusterName: "bench" },
  writeChunk,
});
await ctl.start();
await ctl.synced();
synced = true;
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
blocks.sort((a, b) => a - b);
const blockP99Ms = blocks[Math.min(blocks.length - 1, Math.floor(0.99 * blocks.length))] ?? 0;
const pods = store.listResources([create(TypeDescriptorSchema, { type: "k8s.io.api.core.v1.Pod" })]).length;
const dbFile = fs.readdirSync(path.join(dataDir, "resource")).map((f) => fs.statSync(path.join(dataDir, "resource", f)).size);
out({
  type: "synced",
  ms,
  cpuUs: cpu.user + cpu.system,
  rssBytes: rss(),
  heapBytes: process.memoryUsage().heapUsed,
  pods,
  storeBytes: dbFile.reduce((a, b) => a + b, 0),
  maxBlockMs,
  blockP99Ms,
  topBlocksMs: blocks.slice(-5).map((b) => Math.round(b)),
  bigBlocks,
});

// steady state: let the allocator return what the sync's transient garbage used
await Bun.sleep(5000);
{
  const rssBytes = rss();
  const h = heapStats();
  out({
    type: "settled",
    rssBytes,
    heapBytes: process.memoryUsage().heapUsed,
    jscHeapSize: h.heapSize,
    jscHeapCapacity: h.heapCapacity,
    jscExtraMemory: h.extraMemorySize,
  });
}

// the commit times; subscribing reads every pod as the subscriber's snapshot (~0.3-0.8 s at 10k
// pods), so it is done, and its garbage collected, before the churn is started ("subscribed")
store.subscribe([create(TypeDescriptorSchema, { type: "k8s.io.api.core.v1.Pod" })], (ev) => {
  if (ev.type !== "UPDATE") return;
  const t = performance.timeOrigin + performance.now();
  for (const o of ev.objs) {
    const r = fromBinary(ResourceSchema, o.object!.value);
    const seq = r.metadata?.tags.find((x) => x.key === "seq")?.value;
    if (seq) out({ type: "commit", name: r.metadata!.name, seq, t });
  }
});
await Bun.sleep(0);
Bun.gc(true);
afterSync = true;
out({ type: "subscribed" });

process.on("SIGTERM", () => {
  out({ type: "final", rssBytes: rss(), cpuUs: process.cpuUsage().user + process.cpuUsage().system });
  void ctl.stop(AbortSignal.timeout(5000)).then(() => {
    store.close();
    process.exit(0);
  });
});
