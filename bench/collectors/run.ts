// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * bench/collectors: one full collection of every point collector on this host, in process, beside
 * (a) a C program doing exactly the same file operations (recorded from the agent's own cycle), the
 * floor, and (b) a scrape of Debian's prometheus-node-exporter on loopback. Prints one JSON object.
 *
 * Flags: --cycles N (default 150), --gap-ms N between cycles (default 110, above the 100 ms delta
 * minimum so the cycle includes delta work), --scrapes N (default 100).
 */

import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { registry as sharedRegistry } from "../../src/metrics/registry.ts";
import { defaultRegistry } from "../../src/perf/collect-command.ts";
import { DEFAULT_HOST_PATHS, METRIC_TYPES, type MetricType, metricEvent, type PointCollector } from "../../src/perf/collector.ts";
import { PrometheusExposition } from "../../src/perf/exposition.ts";
import { HostIo } from "../../src/perf/io.ts";
import { isPoint } from "../../src/perf/registry.ts";

/** This development sandbox mounts its tooling under /mnt/sandboxing: keep statfs away from it. */
const OPTS = { filesystemMountExclude: /^\/(dev|proc|sys|mnt\/sandboxing|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/ };

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const CYCLES = arg("cycles", 150);
const GAP = arg("gap-ms", 110);
const SCRAPES = arg("scrapes", 100);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const round = (x: number) => Math.round(x * 1000) / 1000;

/** Every 10 s: everything except the hardware inventory (5 min) and kmsg (streamed in follow mode under run). */
const INTERVAL_SET: MetricType[] = [
  "load",
  "cpu",
  "memory",
  "system",
  "disk",
  "network",
  "tcp",
  "process",
  "numa_stats",
  "cgroup_cpu",
  "cgroup_memory",
  "filesystem",
];
/** Types node_exporter's default collectors do not cover: per-process, per-container, hardware inventory, streams. */
const NOT_NODE_EXPORTER = new Set<MetricType>([
  "kernel",
  "process",
  "cgroup_cpu",
  "cgroup_memory",
  "container_metrics",
  "cpu_info",
  "memory_info",
  "disk_info",
  "network_info",
  "execsnoop",
]);
/** What node_exporter's default collectors cover: every other metric type. */
const HOST_SET: MetricType[] = METRIC_TYPES.filter((t) => !NOT_NODE_EXPORTER.has(t));

async function measureSet(types: MetricType[] | "all", extra: { tcpStates?: "off" } = {}) {
  const io = new HostIo(DEFAULT_HOST_PATHS.sys, 4, DEFAULT_HOST_PATHS.proc);
  const reg = await defaultRegistry(DEFAULT_HOST_PATHS, { ...OPTS, ...extra, io });
  const entries = reg.available().filter((e) => e.spec.type !== "execsnoop" && (types === "all" || types.includes(e.spec.type)));
  const collectors = entries.map((e) => e.create()).filter(isPoint) as PointCollector[];
  const cycle = () => Promise.all(collectors.map((c) => c.collect(AbortSignal.timeout(5000))));
  for (let i = 0; i < 10; i++) {
    await cycle();
    await Bun.sleep(GAP);
  }
  io.trace = new Set();
  await cycle();
  const ops = [...io.trace];
  io.trace = undefined;
  const times: number[] = [];
  for (let i = 0; i < CYCLES; i++) {
    await Bun.sleep(GAP);
    const t0 = performance.now();
    await cycle();
    times.push(performance.now() - t0);
  }
  return { types: collectors.map((c) => c.spec.type), ops, medianMs: median(times), minMs: Math.min(...times) };
}

function floor(ops: string[], types: string[], dir: string, bin: string) {
  // HostIo trace keys: "m:" is one batched read of several files ("\0"-separated), and an "r:" key may carry
  // "\0<maxBytes>"; the C floor reads each file with its own "r" op ("m" there means draining /dev/kmsg).
  const lines = ops.flatMap((k) => {
    if (k.startsWith("m:"))
      return k
        .slice(2)
        .split("\0")
        .map((p) => `r ${p}`);
    if (k.startsWith("r:")) return [`r ${k.slice(2).split("\0")[0]}`];
    return [`${k[0]} ${k.slice(2)}`];
  });
  if (types.includes("tcp")) lines.push("n");
  if (types.includes("kernel")) lines.push("m");
  const file = path.join(dir, `ops-${types.length}.txt`);
  fs.writeFileSync(file, lines.join("\n") + "\n");
  return JSON.parse(execFileSync(bin, [file, String(CYCLES)], { encoding: "utf8" })) as { median_ms: number; min_ms: number; ops: number };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function nodeExporter() {
  const bin = ["/usr/bin/prometheus-node-exporter", "/usr/sbin/prometheus-node-exporter"].find((p) => fs.existsSync(p));
  if (!bin) return { error: "prometheus-node-exporter not installed (scripts/setup.d/30-collectors.apt)" };
  const port = await freePort();
  const child = spawn(bin, [`--web.listen-address=127.0.0.1:${port}`], { stdio: "ignore" });
  try {
    const url = `http://127.0.0.1:${port}/metrics`;
    for (let i = 0; i < 100; i++) {
      try {
        if ((await fetch(url)).ok) break;
      } catch {
        await Bun.sleep(50);
      }
    }
    let series = 0;
    for (let i = 0; i < 5; i++) series = (await (await fetch(url)).text()).split("\n").filter((l) => l && !l.startsWith("#")).length;
    const times: number[] = [];
    for (let i = 0; i < SCRAPES; i++) {
      await Bun.sleep(GAP);
      const t0 = performance.now();
      await (await fetch(url)).text();
      times.push(performance.now() - t0);
    }
    return {
      version: execFileSync(bin, ["--version"], { encoding: "utf8" }).split("\n")[0],
      series,
      medianMs: median(times),
      minMs: Math.min(...times),
    };
  } finally {
    child.kill("SIGTERM");
  }
}

/** Our /metrics render time from scratch (self metrics and every host family; a scrape between collections reuses it). */
async function renderTime() {
  const reg = await defaultRegistry(DEFAULT_HOST_PATHS, OPTS);
  const expo = await PrometheusExposition.create(DEFAULT_HOST_PATHS);
  const types = reg.available().filter((e) => e.spec.type !== "execsnoop" && e.spec.type !== "kernel");
  for (const e of types) {
    const c = e.create() as PointCollector;
    expo.accept(metricEvent(e.spec.type, await c.collect(AbortSignal.timeout(5000)), "gauge", "bench"));
  }
  let series = 0;
  const times: number[] = [];
  for (let i = 0; i < SCRAPES; i++) {
    const t0 = performance.now();
    const text = (await sharedRegistry.metrics()) + (await expo.renderAll());
    times.push(performance.now() - t0);
    series = text.split("\n").filter((l) => l && !l.startsWith("#")).length;
  }
  return { series, medianMs: median(times) };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-collectors-"));
try {
  const bin = path.join(dir, "floor");
  execFileSync("gcc", ["-O2", "-o", bin, new URL("./floor.c", import.meta.url).pathname]);
  const all = await measureSet("all");
  const interval = await measureSet(INTERVAL_SET);
  const floorAll = floor(all.ops, all.types, dir, bin);
  const floorInterval = floor(interval.ops, interval.types, dir, bin);
  const host = await measureSet(HOST_SET);
  const floorHost = floor(host.ops, host.types, dir, bin);
  // node_exporter's default collectors do not count TCP connection states (its tcpstat collector is off)
  const sameWork = await measureSet(HOST_SET, { tcpStates: "off" });
  const floorSameWork = floor(sameWork.ops, sameWork.types, dir, bin);
  const ne = await nodeExporter();
  const render = await renderTime();
  const neMs = "medianMs" in ne ? (ne.medianMs as number) : undefined;
  const stats = (set: { types: string[]; ops: unknown[]; medianMs: number }, c: { median_ms: number }) => ({
    collectors: set.types,
    file_ops: set.ops.length,
    agent_cycle_median_ms: round(set.medianMs),
    c_floor_median_ms: round(c.median_ms),
    ratio_to_floor: round(set.medianMs / c.median_ms),
    ratio_to_node_exporter_scrape: neMs ? round(set.medianMs / neMs) : null,
  });
  console.log(
    JSON.stringify(
      {
        host: { cpus: os.cpus().length, kernel: os.release(), loadavg: os.loadavg().map(round) },
        cycles: CYCLES,
        all_point_collectors: stats(all, floorAll),
        interval_collectors: {
          note: "the set run every 10 s under run (hardware info runs every 5 min, kmsg is streamed)",
          ...stats(interval, floorInterval),
        },
        host_collectors: {
          note: "the node_exporter-comparable set: every family node_exporter's default collectors serve, no per-process or per-container data",
          ...stats(host, floorHost),
        },
        node_exporter_same_work: {
          note: "the host set without TCP connection states (--tcp-states off): exactly the work of node_exporter's default collectors",
          ...stats(sameWork, floorSameWork),
        },
        node_exporter_scrape:
          "medianMs" in ne
            ? { version: ne.version, series: ne.series, median_ms: round(ne.medianMs as number), min_ms: round(ne.minMs as number) }
            : ne,
        agent_metrics_render: {
          series: render.series,
          median_ms: round(render.medianMs),
          ratio_to_node_exporter_scrape: neMs ? round(render.medianMs / neMs) : null,
        },
        targets: { ratio_to_floor_max: 3, faster_than_node_exporter: true, cycle_ms_max: 5 },
      },
      null,
      2,
    ),
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
