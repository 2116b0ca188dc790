// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * bench/collectors/container-metrics: the container_metrics collector's cycle for 100 real (empty) cgroups
 * made on this host (v1 or v2, as mounted), each with a containerd CRI task bundle under a scratch host root,
 * beside the C floor doing exactly the same file operations (recorded from the agent's own cycle), and the
 * render of the container_* families. Needs root (it creates cgroups). Prints one JSON object.
 *
 * Flags: --containers N (default 100), --cycles N (default 60).
 */

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DEFAULT_HOST_PATHS, metricEvent } from "../../src/perf/collector.ts";
import { ContainerMetricsCollector } from "../../src/perf/collectors/container-metrics.ts";
import { PrometheusExposition } from "../../src/perf/exposition.ts";
import { HostIo } from "../../src/perf/io.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg("containers", 100);
const CYCLES = arg("cycles", 60);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x * 1000) / 1000;

const CG = "/sys/fs/cgroup";
const v2 = fs.existsSync(`${CG}/cgroup.controllers`);
const parent = `rtm-bench-${process.pid}`;
const hierarchies = v2 ? [""] : ["cpu", "cpuacct", "memory"];
const work = fs.mkdtempSync(path.join(os.tmpdir(), "container-metrics-bench-"));
const ids = Array.from({ length: N }, () => randomBytes(32).toString("hex"));

function setup() {
  for (const h of hierarchies) fs.mkdirSync(path.join(CG, h, parent));
  if (v2) fs.writeFileSync(path.join(CG, parent, "cgroup.subtree_control"), "+cpu +memory");
  for (const id of ids) {
    for (const h of hierarchies) fs.mkdirSync(path.join(CG, h, parent, id));
    const bundle = path.join(work, "host/run/containerd/io.containerd.runtime.v2.task/k8s.io", id);
    fs.mkdirSync(bundle, { recursive: true });
    const annotations = {
      "io.kubernetes.cri.container-type": "container",
      "io.kubernetes.cri.container-name": `c-${id.slice(0, 6)}`,
      "io.kubernetes.cri.sandbox-name": `pod-${id.slice(0, 6)}`,
      "io.kubernetes.cri.sandbox-namespace": "bench",
      "io.kubernetes.cri.image-name": "docker.io/library/nginx:1.27",
    };
    fs.writeFileSync(path.join(bundle, "config.json"), JSON.stringify({ ociVersion: "1.1.0", process: { args: ["nginx"] }, annotations }));
  }
}

function teardown() {
  for (const h of hierarchies) {
    for (const id of ids) if (fs.existsSync(path.join(CG, h, parent, id))) fs.rmdirSync(path.join(CG, h, parent, id));
    if (fs.existsSync(path.join(CG, h, parent))) fs.rmdirSync(path.join(CG, h, parent));
  }
  fs.rmSync(work, { recursive: true, force: true });
}

/** io.trace keys as floor.c lines; a readMany ("m:" + paths joined by NUL) is one read per path. */
function floorOps(keys: string[]): string[] {
  return keys.flatMap((k) =>
    k.startsWith("m:")
      ? k
          .slice(2)
          .split("\0")
          .map((p) => `r ${p}`)
      : [`${k[0]} ${k.slice(2).split("\0")[0]}`],
  );
}

setup();
try {
  const io = new HostIo(DEFAULT_HOST_PATHS.sys, 4, DEFAULT_HOST_PATHS.proc);
  const collector = new ContainerMetricsCollector({ ...DEFAULT_HOST_PATHS, root: path.join(work, "host") }, { io });
  const first = performance.now();
  const data0 = await collector.collect(AbortSignal.timeout(10_000));
  const firstMs = performance.now() - first; // label lookups (bundles read) happen here; later cycles use the cache
  for (let i = 0; i < 3; i++) await collector.collect(AbortSignal.timeout(10_000));
  io.trace = new Set();
  await collector.collect(AbortSignal.timeout(10_000));
  const ops = floorOps([...io.trace]);
  io.trace = undefined;
  const times: number[] = [];
  let data = data0;
  for (let i = 0; i < CYCLES; i++) {
    await Bun.sleep(20);
    const t0 = performance.now();
    data = await collector.collect(AbortSignal.timeout(10_000));
    times.push(performance.now() - t0);
  }
  const renders: number[] = [];
  for (let i = 0; i < 20; i++) {
    const expo = new PrometheusExposition({ userHz: 100, pageSize: 4096 });
    expo.accept(metricEvent("container_metrics", data, "gauge", "n"));
    const t0 = performance.now();
    await expo.render();
    renders.push(performance.now() - t0);
  }
  const bin = path.join(work, "floor");
  execFileSync("gcc", ["-O2", "-o", bin, new URL("./floor.c", import.meta.url).pathname]);
  const opsFile = path.join(work, "ops.txt");
  fs.writeFileSync(opsFile, `${ops.join("\n")}\n`);
  const floor = JSON.parse(execFileSync(bin, [opsFile, String(CYCLES)], { encoding: "utf8" })) as { median_ms: number; ops: number };
  const served = data.containers.length;
  const cycle = median(times);
  console.log(
    JSON.stringify(
      {
        bench: "container_metrics",
        cgroup_version: v2 ? 2 : 1,
        containers_served: served,
        labelled: data.containers.filter((c) => c.namespace === "bench").length,
        cycles: CYCLES,
        load_average: os.loadavg().map(round),
        first_cycle_ms: round(firstMs),
        cycle_median_ms: round(cycle),
        c_floor_median_ms: round(floor.median_ms),
        file_ops_per_cycle: floor.ops,
        ratio_to_floor: round(cycle / floor.median_ms),
        per_100_containers_ms: round((cycle * 100) / served),
        floor_per_100_containers_ms: round((floor.median_ms * 100) / served),
        render_median_ms: round(median(renders)),
      },
      null,
      2,
    ),
  );
} finally {
  teardown();
}
process.exit(0);
