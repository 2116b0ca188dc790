// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * eBPF benchmark, printing one JSON object (run as root: `bun bench/ebpf/run.ts`, or
 * `bash bench/run.sh ebpf`).
 *
 * (a) exec storm: a C load generator fork+execs /bin/true (fork_exec), or calls execve() on a
 *     missing path from one process (failed_exec, for rates fork+exec cannot reach on a small VM),
 *     at each target rate for DURATION_S seconds while the agent's execsnoop collector (Bun, ring buffer, Worker) and Debian's
 *     libbpf-tools execsnoop (C, perf buffer, `-x -U`, stdout to a file) trace it side by side.
 *     Reports events captured of the execs generated, and CPU seconds per million events of each
 *     tracer process (utime+stime of all its threads over the storm window, from /proc/<pid>/stat).
 * (b) raw ring buffer drain: the execsnoop program with a 64 MiB ring is pre-filled with failed
 *     execs (one process calling execve on a missing path), then drained by one
 *     ring_buffer__consume() in a C libbpf consumer (the anchor) and in Bun by the reader Worker's
 *     own code walking the mapped ring (bun-drain.ts direct), by the previous reader
 *     (ring_buffer__consume with a JSCallback memcpy-ing each record: callback), and end to end
 *     through RingBufferReader (Worker, batches posted to the main thread, onRecord per record:
 *     reader). Each drain process fills and drains twice: "cold" is its first drain (Bun's JIT
 *     not warmed up yet), "warm" its second (as a reader that has been running). Median of REPEAT
 *     processes each, modes interleaved; Bun's decode time is reported apart.
 *
 * WAKEUP_BYTES=0 makes the agent wake its reader on every record, as the original agent does.
 * Env: RUNS (default "fork_exec:3000,failed_exec:10000,failed_exec:50000"; "none" skips (a)), DURATION_S (10),
 * DRAIN_RECORDS (200000), REPEAT (3), DRAIN_MODES (default "direct,callback,reader").
 */

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const BUN = process.execPath;
/** kind:rate pairs; fork_exec = vfork+execve /bin/true, failed_exec = execve of a missing path. */
const RUNS_ENV = process.env.RUNS ?? "fork_exec:3000,failed_exec:10000,failed_exec:50000";
const RUNS = (RUNS_ENV === "none" ? [] : RUNS_ENV.split(",")).map((r) => {
  const [kind, rate] = r.split(":");
  if (kind !== "fork_exec" && kind !== "failed_exec") throw new Error(`RUNS: unknown kind ${kind}`);
  return { kind: kind as "fork_exec" | "failed_exec", rate: Number(rate) };
});
const DURATION_S = Number(process.env.DURATION_S ?? 10);
const DRAIN_RECORDS = Number(process.env.DRAIN_RECORDS ?? 200_000);
const REPEAT = Number(process.env.REPEAT ?? 3);
const DRAIN_MODES = (process.env.DRAIN_MODES ?? "direct,callback,reader").split(",");
const LIBBPF_TOOLS_EXECSNOOP = process.env.LIBBPF_TOOLS_EXECSNOOP ?? "/usr/sbin/execsnoop";
const TICKS = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim() || 100);

const dir = mkdtempSync(join(tmpdir(), "am-bench-ebpf-"));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function cc(src: string, out: string, libs: string[] = []): string {
  const r = Bun.spawnSync(["gcc", "-O2", "-o", out, join(import.meta.dir, src), ...libs], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`gcc ${src}: ${r.stderr.toString()}`);
  return out;
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / TICKS; // utime, stime (fields 14, 15)
}

async function readLine(
  stream: ReadableStream<Uint8Array>,
  want: (l: string) => boolean,
  timeoutMs = 20_000,
): Promise<{ line: string; reader: ReadableStreamDefaultReader<Uint8Array> }> {
  const reader = stream.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const dec = new TextDecoder();
  let buf = "";
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value);
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (want(line)) return { line, reader };
    }
  }
  throw new Error(`timed out waiting for a line (got: ${buf.slice(0, 200)})`);
}

async function waitFileLine(path: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (readFileSync(path, "utf8").includes("\n")) return;
    } catch {}
    await Bun.sleep(20);
  }
  throw new Error(`${path}: tracer printed nothing`);
}

type Kind = "fork_exec" | "failed_exec";

async function storm(kind: Kind, rate: number, storm: string) {
  const marker = `amstorm${process.pid}${kind === "fork_exec" ? "f" : "x"}${rate}`;
  const ours = Bun.spawn([BUN, join(import.meta.dir, "agent-tracer.ts"), marker], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
    cwd: ROOT,
  });
  const { reader } = await readLine(ours.stdout as ReadableStream<Uint8Array>, (l) => l === "ready");
  const theirsOut = join(dir, `libbpf-tools-${rate}.txt`);
  const theirsErr = join(dir, `libbpf-tools-${rate}.err`);
  const theirs = Bun.spawn([LIBBPF_TOOLS_EXECSNOOP, "-x", "-U"], { stdout: Bun.file(theirsOut), stderr: Bun.file(theirsErr) });
  await waitFileLine(theirsOut);
  await Bun.sleep(300);
  const c0 = { ours: cpuSeconds(ours.pid), theirs: cpuSeconds(theirs.pid) };
  const g = Bun.spawnSync(
    kind === "fork_exec"
      ? [storm, "real", String(rate), String(DURATION_S), marker, "/bin/true"]
      : [storm, "failrate", String(rate), String(DURATION_S), marker],
    { stdout: "pipe" },
  );
  const gen = JSON.parse(g.stdout.toString()) as { execs: number; seconds: number };
  await Bun.sleep(1000); // let both drain
  const c1 = { ours: cpuSeconds(ours.pid), theirs: cpuSeconds(theirs.pid) };
  (ours.stdin as import("bun").FileSink).write("stop\n");
  (ours.stdin as import("bun").FileSink).end();
  const dec = new TextDecoder();
  let rest = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += dec.decode(value);
  }
  await ours.exited;
  theirs.kill("SIGINT");
  await theirs.exited;
  const oursResult = JSON.parse(rest.trim().split("\n").pop()!) as { seen: number; events: number; lost: string; rejected: number };
  const theirLines = readFileSync(theirsOut, "utf8").split("\n");
  const argv0 = kind === "fork_exec" ? "/bin/true" : "/nonexistent/antimetal-bench";
  const theirSeen = theirLines.filter((l) => l.includes(`${argv0} ${marker} `)).length;
  const theirAll = theirLines.length - 2;
  const theirLost = [...readFileSync(theirsErr, "utf8").matchAll(/[Ll]ost (\d+) events/g)].reduce((a, m) => a + Number(m[1]), 0);
  const oursCpu = c1.ours - c0.ours;
  const theirsCpu = c1.theirs - c0.theirs;
  const perM = (cpu: number, events: number) => (events > 0 ? (cpu / events) * 1e6 : null);
  const oursPerM = perM(oursCpu, oursResult.events);
  const theirsPerM = perM(theirsCpu, theirAll);
  return {
    kind,
    target_rate: rate,
    generated: gen.execs,
    achieved_rate: Math.round(gen.execs / gen.seconds),
    agent: {
      captured: oursResult.seen,
      captured_pct: (100 * oursResult.seen) / gen.execs,
      events_total: oursResult.events,
      lost: Number(oursResult.lost),
      cpu_seconds: oursCpu,
      cpu_s_per_million_events: oursPerM,
    },
    libbpf_tools: {
      captured: theirSeen,
      captured_pct: (100 * theirSeen) / gen.execs,
      events_total: theirAll,
      lost: theirLost,
      cpu_seconds: theirsCpu,
      cpu_s_per_million_events: theirsPerM,
    },
    cpu_ratio_agent_over_libbpf_tools: oursPerM !== null && theirsPerM ? oursPerM / theirsPerM : null,
  };
}

interface DrainRound {
  round: number;
  records: number;
  bytes: number;
  seconds: number;
  decodeSeconds?: number;
  fill_rate: number;
}

/** Runs one drain child through its two rounds (cold, warm), filling the ring before each. */
async function drainOnce(cmd: string[], storm: string): Promise<DrainRound[]> {
  const p = Bun.spawn(cmd, { stdin: "pipe", stdout: "pipe", stderr: "inherit", cwd: ROOT });
  const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let buf = "";
  const nextLine = async (): Promise<string> => {
    for (;;) {
      const i = buf.indexOf("\n");
      if (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error(`${cmd.join(" ")}: ended early (${buf.slice(0, 200)})`);
      buf += dec.decode(value);
    }
  };
  const stdin = p.stdin as import("bun").FileSink;
  const rounds: DrainRound[] = [];
  for (let r = 0; r < 2; r++) {
    while ((await nextLine()) !== "ready") {}
    const marker = `amdrain${process.pid}r${r}`;
    const g = Bun.spawnSync([storm, "fail", String(DRAIN_RECORDS), marker], { stdout: "pipe" });
    const fill = JSON.parse(g.stdout.toString()) as { execs: number; seconds: number };
    stdin.write("go\n");
    stdin.flush();
    let line = await nextLine();
    while (!line.startsWith("{")) line = await nextLine();
    rounds.push({ ...(JSON.parse(line) as Omit<DrainRound, "fill_rate">), fill_rate: fill.execs / fill.seconds });
  }
  stdin.end();
  await p.exited;
  return rounds;
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error("bench/ebpf needs root (loads BPF programs)");
  const stormBin = cc("storm.c", join(dir, "storm"));
  const drainBin = cc("drain.c", join(dir, "drain"), ["-lbpf"]);
  const obj = join(ROOT, "ebpf", "build", process.arch === "arm64" ? "arm64" : "x64", "execsnoop.bpf.o");
  const result: Record<string, unknown> = {
    host: { cpus: navigator.hardwareConcurrency, kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(), bun: Bun.version },
  };

  const storms = [];
  for (const r of RUNS) storms.push(await storm(r.kind, r.rate, stormBin));
  result.exec_storm = { duration_s: DURATION_S, runs: storms };

  const ring = 64 << 20;
  const c: DrainRound[][] = [];
  const b: Record<string, DrainRound[][]> = Object.fromEntries(DRAIN_MODES.map((m) => [m, []]));
  for (let i = 0; i < REPEAT; i++) {
    c.push(await drainOnce([drainBin, obj, String(ring)], stormBin));
    for (const m of DRAIN_MODES) b[m]!.push(await drainOnce([BUN, join(import.meta.dir, "bun-drain.ts"), String(ring), m], stormBin));
  }
  const rate = (r: { records: number; seconds: number }) => r.records / r.seconds;
  /** Medians of round `k` (0 cold, 1 warm) of each mode, and ratios to C's same round. */
  const figures = (k: 0 | 1) => {
    const cRates = c.map((x) => rate(x[k]!));
    const cRate = median(cRates);
    const bun: Record<string, unknown> = {};
    for (const m of DRAIN_MODES) {
      const runs = b[m]!.map((x) => x[k]!);
      const r = median(runs.map(rate));
      bun[m] = {
        records_per_s: Math.round(r),
        over_c: +(r / cRate).toFixed(3),
        ns_per_record: +(1e9 / r).toFixed(1),
        runs_records_per_s: runs.map((x) => Math.round(rate(x))),
        records_drained: runs.map((x) => x.records),
        decode_ns_per_record: m === "reader" ? null : +median(runs.map((x) => ((x.decodeSeconds ?? 0) / x.records) * 1e9)).toFixed(0),
      };
    }
    return {
      c_libbpf_records_per_s: Math.round(cRate),
      c_ns_per_record: +(1e9 / cRate).toFixed(1),
      c_runs_records_per_s: cRates.map(Math.round),
      c_records_drained: c.map((x) => x[k]!.records),
      bun,
    };
  };
  result.ringbuf_drain = {
    ring_bytes: ring,
    prefilled_records: DRAIN_RECORDS,
    repeat: REPEAT,
    cold: figures(0),
    warm: figures(1),
    load_average: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number),
  };
  console.log(JSON.stringify(result, null, 2));
}

try {
  await main();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
