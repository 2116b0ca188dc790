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
 *   {"type":"commit", name, seq, t}                 per pod update committed (seq = label "seq")
 * Usage: bun bench/kube/agent.ts <kubeconfig> <data dir>
 */

import { heapStats } from "bun:jsc";
import * as fs from "node:fs";
import * as path from "node:path";
import { create, fromBinary } from "@bufbuild/protobuf";
import { loadKubeconfig } from "../../src/kube/client/config.ts";
import { createKubeController } from "../../src/kube/controller.ts";
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
// event-loop drift probe: the longest gap between 5 ms ticks during the initial sync
let maxBlockMs = 0;
const blocks: number[] = [];
const bigBlocks: Array<[number, number]> = []; // [gap ms, ms since start] of gaps over 50 ms
const t0 = performance.now();
let lastTick = t0;
const probe = setInterval(() => {
  const now = performance.now();
  const gap = now - lastTick - 5;
  lastTick = now;
  blocks.push(gap);
  if (gap > 50) bigBlocks.push([Math.round(gap), Math.round(now - t0)]);
  if (gap > maxBlockMs) maxBlockMs = gap;
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
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
clearInterval(probe);
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

store.subscribe([create(TypeDescriptorSchema, { type: "k8s.io.api.core.v1.Pod" })], (ev) => {
  if (ev.type !== "UPDATE") return;
  const t = performance.timeOrigin + performance.now();
  for (const o of ev.objs) {
    const r = fromBinary(ResourceSchema, o.object!.value);
    const seq = r.metadata?.tags.find((x) => x.key === "seq")?.value;
    if (seq) out({ type: "commit", name: r.metadata!.name, seq, t });
  }
});

process.on("SIGTERM", () => {
  out({ type: "final", rssBytes: rss(), cpuUs: process.cpuUsage().user + process.cpuUsage().system });
  void ctl.stop(AbortSignal.timeout(5000)).then(() => {
    store.close();
    process.exit(0);
  });
});
