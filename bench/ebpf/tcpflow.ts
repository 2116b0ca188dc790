// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * tcpflow beside libbpf-tools tcplife, in the same run, on the same connection storm
 * (bench/ebpf/tcpflow-storm.c, compiled here with cc: two processes per CPU, loopback
 * connect/accept/close, RST close so ports never run out).
 * For each target rate (1k/s, 10k/s, and as fast as the generator goes) and each repetition:
 * both tracers attached at once, the storm runs, then
 *   capture  = closes each tracer reported for the storm's port / (2 × connections made)
 *   CPU/conn = (the tracer process's utime+stime + the run time of its BPF programs) over the
 *              storm / connections made. The programs run in the generator's syscalls and
 *              softirqs, so their cost is not in the tracer's own utime+stime; the kernel's BPF
 *              run-time statistics (turned on by the generator for its lifetime, BPF_ENABLE_STATS)
 *              give it per program, read from /proc/<tracer>/fdinfo of its program fds.
 * Prints one JSON object: per rate the medians over the repetitions (user and kernel parts too),
 * the agent/tcplife CPU ratio, and the load average before each rate's runs.
 *
 *   bun bench/ebpf/tcpflow.ts [--seconds 5] [--reps 3] [--rates 1k,10k,max]
 */

import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const BUN = process.execPath;
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const SECONDS = arg("seconds", 5);
const REPS = arg("reps", 3);
const dir = mkdtempSync(join(tmpdir(), "am-tcpflow-bench-"));
const STORM = join(dir, "tcpflow-storm");

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime (all threads), clock ticks
}

/** Sum of run_time_ns over the BPF programs whose fds the process holds (BPF_ENABLE_STATS on). */
function bpfRunNs(pid: number): number {
  let ns = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let link = "";
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (link !== "anon_inode:bpf-prog") continue;
    const m = /run_time_ns:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"));
    if (m) ns += Number(m[1]);
  }
  return ns;
}

const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

async function firstLine(
  stream: ReadableStream<Uint8Array>,
  want: (l: string) => boolean,
): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  const reader = stream.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before the expected line (got: ${buf.slice(0, 200)})`);
    buf += dec.decode(value);
    for (const l of buf.split("\n")) if (want(l)) return reader;
  }
}

async function rest(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const dec = new TextDecoder();
  let out = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return out;
    out += dec.decode(value);
  }
}

interface Run {
  achieved: number;
  connections: number;
  agent: {
    capture: number;
    cpuPerConnUs: number;
    userUs: number;
    bpfUs: number;
    lost: string;
    skipped: string;
    recovered: string;
    missed: number;
    misses: Record<string, string>;
    kinds: Record<string, number>;
    runs: Record<string, { run_time_ns: number; run_cnt: number }>;
  };
  tcplife: { missed: number; capture: number; cpuPerConnUs: number; userUs: number; bpfUs: number };
  bpfStats: boolean;
}

async function once(rate: number): Promise<Run> {
  // Two generator processes per CPU: on a shared machine more runnable processes keep its share.
  const storm = Bun.spawn([STORM, String(rate), String(SECONDS), String(2 * navigator.hardwareConcurrency)], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const sr = (storm.stdout as ReadableStream<Uint8Array>).getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const first = new TextDecoder().decode((await sr.read()).value);
  const hello = JSON.parse(first.split("\n")[0]!) as { port: number; bpf_stats: number };
  const port = hello.port;

  const ours = Bun.spawn([BUN, join(import.meta.dir, "tcpflow-tracer.ts"), String(port)], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
    cwd: ROOT,
  });
  const oursReader = await firstLine(ours.stdout as ReadableStream<Uint8Array>, (l) => l === "ready");
  // Unfiltered (tcplife's -L and -D must both match); its lines are counted by port. Header = attached.
  const life = Bun.spawn(["stdbuf", "-oL", "tcplife", "-w"], { stdout: "pipe", stderr: "pipe" });
  const lifeReader = await firstLine(life.stdout as ReadableStream<Uint8Array>, (l) => l.startsWith("PID"));
  const lifeText = rest(lifeReader);
  await Bun.sleep(300);
  const c0 = { ours: cpuSeconds(ours.pid), life: cpuSeconds(life.pid), oursBpf: bpfRunNs(ours.pid), lifeBpf: bpfRunNs(life.pid) };
  storm.stdin.write("go\n");
  storm.stdin.end();
  const result = JSON.parse((await rest(sr)).trim().split("\n").pop()!) as { connections: number; seconds: number };
  await storm.exited;
  await Bun.sleep(1000); // both drain (the agent's reader polls every 100 ms)
  const c1 = { ours: cpuSeconds(ours.pid), life: cpuSeconds(life.pid), oursBpf: bpfRunNs(ours.pid), lifeBpf: bpfRunNs(life.pid) };
  ours.stdin.write("stop\n");
  ours.stdin.end();
  const oursOut = JSON.parse((await rest(oursReader)).trim().split("\n").pop()!) as {
    closes: number;
    lost: string;
    skipped: string;
    recovered: string;
    misses: Record<string, string>;
    kinds: Record<string, number>;
    runs: Record<string, { run_time_ns: number; run_cnt: number }>;
  };
  life.kill("SIGINT");
  await life.exited;
  const lifeCloses = (await lifeText).split("\n").filter((l) => {
    const p = l.trim().split(/\s+/);
    return p.length >= 9 && /^\d+$/.test(p[0]!) && (Number(p[3]) === port || Number(p[5]) === port);
  }).length;
  const n = result.connections;
  const part = (userS: number, bpfNs: number) => ({ userUs: (userS / n) * 1e6, bpfUs: bpfNs / 1e3 / n });
  const a = part(c1.ours - c0.ours, c1.oursBpf - c0.oursBpf);
  const l = part(c1.life - c0.life, c1.lifeBpf - c0.lifeBpf);
  return {
    achieved: n / result.seconds,
    connections: n,
    agent: {
      capture: oursOut.closes / (2 * n),
      cpuPerConnUs: a.userUs + a.bpfUs,
      ...a,
      lost: oursOut.lost,
      skipped: oursOut.skipped,
      recovered: oursOut.recovered,
      missed: 2 * n - oursOut.closes,
      misses: oursOut.misses,
      kinds: oursOut.kinds,
      runs: oursOut.runs,
    },
    tcplife: { missed: 2 * n - lifeCloses, capture: lifeCloses / (2 * n), cpuPerConnUs: l.userUs + l.bpfUs, ...l },
    bpfStats: hello.bpf_stats === 1,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const cc = Bun.spawnSync(["cc", "-O2", "-o", STORM, join(import.meta.dir, "tcpflow-storm.c")], { stderr: "pipe" });
if (cc.exitCode !== 0) throw new Error(`cc: ${cc.stderr.toString()}`);
const load0 = loadavg();
const rates: Record<string, unknown> = {};
const only = process.argv.includes("--rates") ? process.argv[process.argv.indexOf("--rates") + 1]!.split(",") : undefined;
for (const [label, rate] of [
  ["1k", 1000],
  ["10k", 10_000],
  ["max", 0],
] as const) {
  if (only && !only.includes(label)) continue;
  const loadBefore = loadavg();
  const runs: Run[] = [];
  for (let i = 0; i < REPS; i++) runs.push(await once(rate));
  const m = (f: (r: Run) => number) => median(runs.map(f));
  rates[label] = {
    target_per_s: rate || "max",
    achieved_per_s: Math.round(m((r) => r.achieved)),
    achieved_per_run: runs.map((r) => Math.round(r.achieved)),
    agent: {
      capture: m((r) => r.agent.capture),
      capture_per_run: runs.map((r) => Number(r.agent.capture.toFixed(4))),
      cpu_us_per_connection: Number(m((r) => r.agent.cpuPerConnUs).toFixed(2)),
      user_us: Number(m((r) => r.agent.userUs).toFixed(2)),
      bpf_us: Number(m((r) => r.agent.bpfUs).toFixed(2)),
      lost: runs.map((r) => r.agent.lost),
      skipped_runs: runs.map((r) => r.agent.skipped),
      recovered_runs: runs.map((r) => r.agent.recovered),
      missed_closes_per_run: runs.map((r) => r.agent.missed),
      recursion_misses_per_run: runs.map((r) => r.agent.misses),
      // The fallback state-change program's share: its runs and run time per connection (tracer lifetime).
      nested_program_per_run: runs.map((r) => {
        const p = r.agent.runs.tp_btf__inet_sock_set_state_nested;
        return p
          ? { runs_per_conn: Number((p.run_cnt / r.connections).toFixed(2)), ns_per_conn: Math.round(p.run_time_ns / r.connections) }
          : null;
      }),
      records_per_run: runs.map((r) => ({ connections: r.connections, ...r.agent.kinds })),
    },
    tcplife: {
      capture: m((r) => r.tcplife.capture),
      capture_per_run: runs.map((r) => Number(r.tcplife.capture.toFixed(4))),
      missed_closes_per_run: runs.map((r) => r.tcplife.missed),
      cpu_us_per_connection: Number(m((r) => r.tcplife.cpuPerConnUs).toFixed(2)),
      user_us: Number(m((r) => r.tcplife.userUs).toFixed(2)),
      bpf_us: Number(m((r) => r.tcplife.bpfUs).toFixed(2)),
    },
    bpf_stats: runs.every((r) => r.bpfStats),
    load_before: loadBefore,
    cpu_ratio_agent_over_tcplife: Number(median(runs.map((r) => r.agent.cpuPerConnUs / Math.max(r.tcplife.cpuPerConnUs, 1e-9))).toFixed(2)),
    runs: runs.length,
  };
}
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify(
    {
      bench: "tcpflow vs libbpf-tools tcplife",
      seconds_per_run: SECONDS,
      rates,
      load_before: load0,
      load_after: loadavg(),
      host: { cpus: navigator.hardwareConcurrency, kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(), bun: Bun.version },
    },
    null,
    2,
  ),
);
