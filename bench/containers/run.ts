// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Runtime graph refresh cost: a synthetic host of 100 CRI containers (cgroup v2, systemd driver,
// containerd task state) and 1000 processes, and this live host; CPU ms per refresh (the first, which
// writes everything; steady ones, which write nothing; one with 10 changed processes), next to an
// anchor measured in the same run: a plain synchronous replay (readdir + read + stat in raw Bun) of
// exactly the files the steady refresh touched. With eBPF (root): exec -> store latency (a new process
// gets its node once it reaches the policy's minimum age, 5 s: the figure is the time past that) and
// the exec of a process that has a node -> its rewrite, and exit -> delete latency, with the interval at an hour. Prints one JSON object.
// Usage: bun bench/containers/run.ts [--runs N] [--on-disk]

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { createRuntimeGraphComponent, DEFAULT_PROCESS_POLICY, type RuntimeGraphComponent } from "../../src/containers/index.ts";
import { createProcexitTracer } from "../../src/ebpf/index.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { DEFAULT_HOST_PATHS, type HostPaths } from "../../src/perf/collector.ts";
import { HostIo } from "../../src/perf/io.ts";
import { ProcessNodeSchema } from "../../src/proto/gen/antimetal/runtime/v1/process_pb.ts";
import { openStore, type Store } from "../../src/store/index.ts";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 15;
const CONTAINERS = 100;
const PROCESSES = 1000;

function w(p: string, text: string): void {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
}

/** The synthetic host: 100 containers of 10 processes each (pid 1000 + 10c + i), all old enough for nodes. */
function buildHost(root: string): void {
  const cg = `${root}/sys/fs/cgroup`;
  w(`${cg}/cgroup.controllers`, "cpuset cpu io memory pids\n");
  w(`${cg}/cpuset.cpus.effective`, "0-7\n");
  w(`${cg}/cpuset.mems.effective`, "0\n");
  w(`${root}/proc/stat`, "cpu 1 2 3 4\nbtime 1764900000\n");
  for (let c = 0; c < CONTAINERS; c++) {
    const id = c.toString(16).padStart(64, "a");
    const uid = `0f1e2d3c-4b5a-6978-8796-${c.toString(16).padStart(12, "0")}`;
    const pod = `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replaceAll("-", "_")}.slice`;
    const dir = `${cg}/${pod}/cri-containerd-${id}.scope`;
    for (const [f, v] of [
      ["cgroup.procs", ""],
      ["cpu.weight", "39\n"],
      ["cpu.max", "50000 100000\n"],
      ["memory.max", "536870912\n"],
      ["cpuset.cpus", ""],
      ["cpuset.mems", ""],
    ])
      w(`${dir}/${f}`, v!);
    w(
      `${root}/root/run/containerd/io.containerd.runtime.v2.task/k8s.io/${id}/config.json`,
      JSON.stringify({
        annotations: {
          "io.kubernetes.cri.container-type": "container",
          "io.kubernetes.cri.container-name": `app${c}`,
          "io.kubernetes.cri.image-name": `registry.example.com/team/app${c}:v1.${c}`,
          "io.kubernetes.cri.sandbox-name": `app${c}-7d4f8bd9c-abc12`,
          "io.kubernetes.cri.sandbox-namespace": "prod",
          "io.kubernetes.cri.sandbox-uid": uid,
        },
        linux: { cgroupsPath: `kubepods-burstable-pod${uid.replaceAll("-", "_")}.slice:cri-containerd:${id}` },
      }),
    );
    for (let i = 0; i < PROCESSES / CONTAINERS; i++) {
      const pid = 1000 + c * 10 + i;
      const ppid = i === 0 ? 1 : 1000 + c * 10;
      w(
        `${root}/proc/${pid}/stat`,
        `${pid} (app${c}) S ${ppid} ${pid} ${pid} 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 ${1000 + pid} 1000000 100 0\n`,
      );
      w(`${root}/proc/${pid}/cgroup`, `0::/${pod}/cri-containerd-${id}.scope\n`);
      w(`${root}/proc/${pid}/cmdline`, `/app/server\0--port=${8000 + i}\0--worker=${i}\0`);
    }
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : 0;
};
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

async function timed<T>(fn: () => Promise<T>): Promise<{ cpu: number; wall: number; value: T }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  return { cpu: cpuMs(process.cpuUsage(c0)), wall: performance.now() - t0, value };
}

/** The anchor: the same operations, synchronously, with plain fs calls. */
function replay(trace: Set<string>): void {
  for (const op of trace) {
    const kind = op.slice(0, 2);
    const p = op.slice(2);
    try {
      if (kind === "r:") fs.readFileSync(p, "latin1");
      else if (kind === "l:") fs.readdirSync(p, { withFileTypes: true });
      else if (kind === "s:") fs.statSync(p);
      else if (kind === "m:") for (const f of p.split("\0")) fs.readFileSync(f, "latin1");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e; // a process that ended
    }
  }
}

async function measure(name: string, paths: HostPaths, io: HostIo, mutate?: () => void) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rt-bench-store-"));
  const store = openStore({ dataDirectory: dir, logger: silentLogger });
  const c: RuntimeGraphComponent = createRuntimeGraphComponent({
    store,
    paths,
    intervalMs: 3_600_000,
    systemName: async () => "bench-host",
    logger: silentLogger,
    io,
  });
  try {
    const first = await timed(() => c.refresh());
    const steady: { cpu: number; wall: number }[] = [];
    const anchor: number[] = [];
    // The trace (what the anchor replays) is recorded on an extra refresh each time, so its own cost is not in the figures.
    // Every 10th scan also re-reads each process's cgroup file and the runtime metadata: the medians are of the others.
    const touched: number[] = [];
    for (let i = 0; i < runs; i++) {
      steady.push(await timed(() => c.refresh()));
      const trace = new Set<string>();
      io.trace = trace;
      await c.refresh();
      io.trace = undefined;
      const a0 = process.cpuUsage();
      replay(trace);
      anchor.push(cpuMs(process.cpuUsage(a0)));
      touched.push(trace.size);
    }
    let changed: { cpu: number; wall: number; value: unknown } | undefined;
    if (mutate) {
      mutate();
      changed = await timed(() => c.refresh());
    }
    const last = steady.length ? await c.refresh() : first.value;
    return {
      host: name,
      containers: last.containers,
      processes: last.processes,
      relationships: last.relationships,
      files_touched_per_refresh_median: median(touched),
      first_refresh: {
        cpu_ms: +first.cpu.toFixed(1),
        wall_ms: +first.wall.toFixed(1),
        writes: first.value.upserted + first.value.relationshipsAdded,
      },
      steady_refresh_cpu_ms_median: +median(steady.map((s) => s.cpu)).toFixed(2),
      steady_refresh_wall_ms_median: +median(steady.map((s) => s.wall)).toFixed(2),
      anchor_plain_fs_replay_cpu_ms_median: +median(anchor).toFixed(2),
      ratio_to_anchor: +(median(steady.map((s) => s.cpu)) / Math.max(0.01, median(anchor))).toFixed(2),
      ...(changed
        ? { ten_changed_processes: { cpu_ms: +changed.cpu.toFixed(1), wall_ms: +changed.wall.toFixed(1), result: changed.value } }
        : {}),
    };
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** exec -> node and exit -> delete, live (eBPF), on this host; undefined when eBPF is not available here. */
async function liveLatency(samples: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rt-bench-live-"));
  const store: Store = openStore({ dataDirectory: dir, logger: silentLogger });
  const c = createRuntimeGraphComponent({
    store,
    paths: DEFAULT_HOST_PATHS,
    intervalMs: 3_600_000,
    systemName: async () => "bench-host",
    logger: silentLogger,
    liveEvents: createProcexitTracer({ logger: silentLogger }),
  });
  const nodeOf = (pid: number) => {
    const r = store
      .listResources([{ kind: "", type: "antimetal.runtime.v1.ProcessNode" } as never])
      .find((x) => x.metadata?.name === String(pid));
    return r?.spec ? anyUnpack(r.spec, ProcessNodeSchema) : undefined;
  };
  const has = (pid: number) => nodeOf(pid) !== undefined;
  try {
    await c.start();
    const exec: number[] = [];
    const rewrite: number[] = [];
    const exit: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = Date.now();
      // A shell that execs into sleep when told: its node, then the exec's rewrite, then the exit's delete.
      const child = Bun.spawn(["/bin/sh", "-c", "read line; exec /bin/sleep 60"], { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
      while (!has(child.pid)) {
        if (Date.now() - t0 > 15_000) return { error: "no node within 15 s: eBPF live updates not running here" };
        await Bun.sleep(5);
      }
      exec.push(Date.now() - t0 - DEFAULT_PROCESS_POLICY.minAgeMs);
      const t2 = Date.now();
      child.stdin.write("go\n");
      await child.stdin.flush();
      while (nodeOf(child.pid)?.command !== "sleep") {
        if (Date.now() - t2 > 15_000) return { error: "the exec did not rewrite the node within 15 s" };
        await Bun.sleep(5);
      }
      rewrite.push(Date.now() - t2);
      const t1 = Date.now();
      child.kill("SIGKILL");
      while (has(child.pid)) await Bun.sleep(5);
      exit.push(Date.now() - t1);
    }
    return {
      samples,
      exec_to_store_ms_past_min_age_median: median(exec),
      exec_to_store_ms_past_min_age_max: Math.max(...exec),
      exec_of_a_process_with_a_node_to_rewrite_ms_median: median(rewrite),
      exec_of_a_process_with_a_node_to_rewrite_ms_max: Math.max(...rewrite),
      exit_to_delete_ms_median: median(exit),
      exit_to_delete_ms_max: Math.max(...exit),
      min_age_ms: DEFAULT_PROCESS_POLICY.minAgeMs,
    };
  } finally {
    await c.stop(AbortSignal.timeout(5000));
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The synthetic host's filesystem: tmpfs (/dev/shm) by default, memory-backed like the cgroupfs and procfs it stands for; --on-disk puts it under the temp directory instead. */
const shmIsTmpfs = (() => {
  try {
    return Number(fs.statfsSync("/dev/shm").type) === 0x01021994;
  } catch {
    return false;
  }
})();
const hostBase = process.argv.includes("--on-disk") || !shmIsTmpfs ? os.tmpdir() : "/dev/shm";
const root = fs.mkdtempSync(path.join(hostBase, "rt-bench-host-"));
try {
  buildHost(root);
  const synthPaths: HostPaths = {
    proc: `${root}/proc`,
    sys: `${root}/sys`,
    dev: `${root}/dev`,
    etc: `${root}/etc`,
    var: `${root}/var`,
    root: `${root}/root`,
  };
  const synthetic = await measure(
    `synthetic: 100 containers, 1000 processes (fixture tree under ${hostBase}: ${hostBase === "/dev/shm" ? "tmpfs, cgroup files read in place" : "disk, cgroup files through the read pool"})`,
    synthPaths,
    new HostIo(synthPaths.sys, 4, synthPaths.proc),
    () => {
      for (let i = 0; i < 10; i++) {
        const pid = 1000 + i * 10;
        const f = `${root}/proc/${pid}/stat`;
        fs.writeFileSync(f, fs.readFileSync(f, "utf8").replace(" S ", " T "));
      }
    },
  );
  const live = await measure("this host (procfs read in place)", DEFAULT_HOST_PATHS, new HostIo("/sys", 4, "/proc"));
  const latency = process.getuid?.() === 0 ? await liveLatency(5) : { error: "not root: no eBPF" };
  console.log(
    JSON.stringify(
      { bench: "containers", runs, loadavg: os.loadavg().map((x) => +x.toFixed(2)), nproc: os.cpus().length, synthetic, live, latency },
      null,
      1,
    ),
  );
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
process.exit(0);
