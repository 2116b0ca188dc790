// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Kernel matrix, the pure part: the kernel list (kernels.conf), decoding the guest's serial
 * console into step results, judging each (kernel, program) cell, and rendering the table.
 */
import { gunzipSync } from "node:zlib";

export type Arch = "amd64" | "arm64";

export interface KernelSpec {
  id: string;
  arch: Arch;
  suite: string;
}

export function parseKernelsConf(text: string): KernelSpec[] {
  const out: KernelSpec[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) continue;
    const [id, arch, suite, ...rest] = line.split(/\s+/);
    if (!id || !suite || rest.length > 0 || (arch !== "amd64" && arch !== "arm64")) {
      throw new Error(`kernels.conf line ${i + 1}: want "id amd64|arm64 suite", got ${JSON.stringify(raw)}`);
    }
    out.push({ id, arch, suite });
  }
  return out;
}

export interface StepResult {
  exitCode: number;
  output: string;
}

export interface GuestRun {
  booted?: { release: string; machine: string };
  done: boolean;
  steps: Record<string, StepResult>;
  /** Framing problems found while decoding (a step cut off, bad base64). */
  problems: string[];
}

/** Decodes the guest's console: KMATRIX-BEGIN <step> <rc>, gzip+base64 lines, KMATRIX-END <step>. */
export function parseSerial(serial: string): GuestRun {
  const run: GuestRun = { done: false, steps: {}, problems: [] };
  let current: { step: string; exitCode: number; b64: string[] } | undefined;
  for (const raw of serial.split(/\r?\n/)) {
    const line = raw.replace(/\r/g, "").trim();
    const booted = /^KMATRIX-BOOTED (\S+) (\S+)$/.exec(line);
    if (booted) {
      run.booted = { release: booted[1]!, machine: booted[2]! };
      continue;
    }
    if (line === "KMATRIX-DONE") {
      run.done = true;
      continue;
    }
    const begin = /^KMATRIX-BEGIN (\S+) (-?\d+)$/.exec(line);
    if (begin) {
      if (current) run.problems.push(`step ${current.step} has no end marker`);
      current = { step: begin[1]!, exitCode: Number(begin[2]), b64: [] };
      continue;
    }
    const end = /^KMATRIX-END (\S+)$/.exec(line);
    if (end && current) {
      try {
        const bytes = Buffer.from(current.b64.join(""), "base64");
        run.steps[current.step] = { exitCode: current.exitCode, output: gunzipSync(bytes).toString("utf8") };
      } catch (e) {
        run.problems.push(`step ${current.step}: cannot decode output: ${(e as Error).message}`);
      }
      current = undefined;
      continue;
    }
    if (current) {
      if (/^[A-Za-z0-9+/=]+$/.test(line)) current.b64.push(line);
      else if (line) run.problems.push(`step ${current.step}: stray console line ${JSON.stringify(line.slice(0, 120))}`);
    }
  }
  if (current) run.problems.push(`step ${current.step} has no end marker`);
  return run;
}

/** One cell: whether it meets what the matrix expects, and the short text shown in the table. */
export interface Cell {
  ok: boolean;
  text: string;
}

export const PROGRAM_COLUMNS = [
  "check",
  "execsnoop load+attach",
  "execsnoop capture",
  "collect",
  "no BTF",
  "tcpflow",
  "oomkill",
  "procexit",
] as const;
export type Column = (typeof PROGRAM_COLUMNS)[number];

export interface KernelResult {
  kernel: KernelSpec;
  /** `uname -r` inside the guest. */
  release: string;
  cells: Partial<Record<Column, Cell>>;
  bootSeconds: number;
  /** How QEMU ran the guest. */
  accel: "kvm" | "tcg";
  /** The Bun runtime's crash report, when it crashed in the guest. */
  runtimeCrash?: string;
  /** This row comes from a second boot, after the runtime crashed in the first. */
  retriedAfterCrash?: boolean;
}

const fail = (text: string): Cell => ({ ok: false, text: `FAIL: ${text}` });

function step(run: GuestRun, name: string): StepResult | undefined {
  return run.steps[name];
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

interface CheckJson {
  btf?: { present?: boolean };
  ringBuffer?: { supported?: boolean; probed?: boolean; reason?: string };
  libbpf?: { version?: string; error?: string };
  collectors?: Record<string, { available?: boolean; reason?: string }>;
}

/** `check` on a kernel with BTF: BTF present, the ring buffer probed and created, execsnoop available. */
export function judgeCheck(run: GuestRun): Cell {
  const s = step(run, "check");
  if (!s) return fail("no result from check");
  const c = parseJson(s.output) as CheckJson | undefined;
  if (s.exitCode !== 0 || !c) return fail(`check exited ${s.exitCode}: ${s.output.slice(0, 200)}`);
  if (!c.btf?.present) return fail("BTF reported missing");
  if (!c.ringBuffer?.supported || !c.ringBuffer.probed) return fail(`ring buffer: ${c.ringBuffer?.reason ?? "not reported"}`);
  const ex = c.collectors?.execsnoop;
  if (!ex?.available) return fail(`execsnoop unavailable: ${ex?.reason ?? "not reported"}`);
  return { ok: true, text: `ok (BTF, ring buffer probed, libbpf ${c.libbpf?.version ?? "?"})` };
}

interface ExecJson {
  pid: number;
  retval: number;
  comm: string;
  args: string[];
  errors?: Record<string, string>;
}

interface ExecsnoopRun {
  header:
    | { nonce: string; burst: number; attached_before_burst: string; duration?: string; start_s?: number; burst_done_s?: number }
    | undefined;
  events: ExecJson[];
  errors: string[];
}

function readExecsnoop(s: StepResult): ExecsnoopRun {
  const lines = s.output.split("\n").filter((l) => l.trim());
  const header = parseJson(lines[0] ?? "") as ExecsnoopRun["header"];
  const events: ExecJson[] = [];
  const errors: string[] = [];
  for (const l of lines.slice(1)) {
    const j = parseJson(l) as ExecJson | undefined;
    if (!j) errors.push(`not JSON: ${l.slice(0, 120)}`);
    else if (j.errors) errors.push(...Object.values(j.errors));
    else events.push(j);
  }
  return { header, events, errors };
}

const SIGNALS: Record<number, string> = { 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 9: "SIGKILL", 11: "SIGSEGV" };
const signalName = (n: number) => SIGNALS[n] ?? `signal ${n}`;

/** collect --collectors execsnoop exited 0: the object loaded, both tracepoints attached, the ring was read. */
export function judgeExecsnoopLoad(run: GuestRun): Cell {
  const s = step(run, "execsnoop");
  if (!s) return fail("no result from collect --collectors execsnoop");
  const r = readExecsnoop(s);
  if (s.exitCode > 128) return fail(`the agent was killed by ${signalName(s.exitCode - 128)} (exit ${s.exitCode})`);
  if (s.exitCode !== 0 || r.errors.length)
    return fail(`exit ${s.exitCode}: ${r.errors.join("; ").slice(0, 200) || (step(run, "execsnoop-stderr")?.output ?? "").slice(0, 200)}`);
  if (r.header?.attached_before_burst !== "yes") return fail("the agent never held its two tracepoint attachments");
  return { ok: true, text: "ok (2 tracepoints)" };
}

/** Every exec of the burst seen exactly once with its exact argv, plus the failed exec with -ENOENT. */
export function judgeExecsnoopCapture(run: GuestRun): Cell {
  const s = step(run, "execsnoop");
  if (!s) return fail("no result");
  const r = readExecsnoop(s);
  if (!r.header) return fail("no burst header");
  const { nonce, burst } = r.header;
  const seen = new Map<number, number>();
  let wrong = 0;
  let failed: ExecJson | undefined;
  for (const e of r.events) {
    if (e.args[1] === "kmatrix-fail" && e.args[2] === nonce) failed = e;
    if (e.args[1] !== "kmatrix-burst" || e.args[2] !== nonce) continue;
    const i = Number(e.args[3]);
    const exact = e.args.length === 4 && e.args[0] === "/bin/true" && e.retval === 0 && e.comm === "true";
    if (!exact || !Number.isInteger(i) || i < 1 || i > burst) wrong++;
    else seen.set(i, (seen.get(i) ?? 0) + 1);
  }
  const missing = burst - seen.size;
  const window = Number(/^(\d+)s$/.exec(r.header.duration ?? "")?.[1]);
  const { start_s, burst_done_s } = r.header;
  if (missing && window && start_s !== undefined && burst_done_s !== undefined && burst_done_s - start_s > window) {
    return fail(
      `the burst ended ${(burst_done_s - start_s).toFixed(1)}s after the agent started, past its ${window}s recording window (the guest is too slow for kmatrix.duration)`,
    );
  }
  const dupes = [...seen.values()].filter((n) => n > 1).length;
  const problems: string[] = [];
  if (missing) problems.push(`${missing} of ${burst} execs missing`);
  if (dupes) problems.push(`${dupes} seen twice`);
  if (wrong) problems.push(`${wrong} with wrong fields`);
  if (!failed) problems.push("failed exec not seen");
  else if (failed.retval !== -2) problems.push(`failed exec retval ${failed.retval}, want -2`);
  if (problems.length) return fail(problems.join(", "));
  return { ok: true, text: `${seen.size}/${burst} execs + ENOENT` };
}

/** `collect` (point collectors): valid JSON, exit 0, no collector errors. */
export function judgeCollect(run: GuestRun): Cell {
  const s = step(run, "collect");
  if (!s) return fail("no result from collect");
  const j = parseJson(s.output) as Record<string, unknown> | undefined;
  if (!j) return fail(`exit ${s.exitCode}, output is not JSON: ${s.output.slice(0, 200)}`);
  const errors = (j.errors ?? {}) as Record<string, string>;
  const names = Object.keys(j).filter((k) => k !== "errors");
  if (s.exitCode !== 0 || Object.keys(errors).length) {
    return fail(
      `exit ${s.exitCode}; ${Object.entries(errors)
        .map(([k, v]) => `${k}: ${v}`)
        .join("; ")
        .slice(0, 300)}`,
    );
  }
  return { ok: true, text: `ok (${names.length} collectors)` };
}

/** With /sys/kernel/btf hidden: check says BTF is missing and turns execsnoop off naming it; collect fails with that reason. */
export function judgeNoBtf(run: GuestRun): Cell {
  const s = step(run, "nobtf-check");
  const ex = step(run, "nobtf-execsnoop");
  if (!s || !ex) return fail("no result");
  const c = parseJson(s.output) as CheckJson | undefined;
  if (!c) return fail(`check output is not JSON: ${s.output.slice(0, 200)}`);
  if (c.btf?.present !== false) return fail("check still reports BTF present");
  const a = c.collectors?.execsnoop;
  if (a?.available !== false || !/BTF/.test(a.reason ?? "")) return fail(`execsnoop not turned off for BTF: ${JSON.stringify(a)}`);
  if (ex.exitCode === 0 || !/BTF/.test(ex.output))
    return fail(`collect --collectors execsnoop did not fail naming BTF (exit ${ex.exitCode}): ${ex.output.slice(0, 200)}`);
  return { ok: true, text: "off, as check says (BTF missing)" };
}

/** The columns each architecture runs (arm64 is emulated: the smallest set that proves the programs). */
export function columnsFor(arch: Arch): Column[] {
  return arch === "amd64"
    ? [...PROGRAM_COLUMNS]
    : ["check", "execsnoop load+attach", "execsnoop capture", "no BTF", "tcpflow", "oomkill", "procexit"];
}

export function stepsFor(arch: Arch): string[] {
  return arch === "amd64" ? ["check", "execsnoop", "collect", "nobtf", "programs"] : ["check", "execsnoop", "nobtf", "programs"];
}

interface ProgramsRun {
  header: { attached?: string; port?: number; sent?: number; echoed?: number; procs?: number[]; oom_pid?: number } | undefined;
  records: Array<Record<string, unknown>>;
  errors: Record<string, string>;
}

function readPrograms(s: StepResult): ProgramsRun {
  const lines = s.output.split("\n").filter((l) => l.trim());
  const out: ProgramsRun = { header: parseJson(lines[0] ?? "") as ProgramsRun["header"], records: [], errors: {} };
  for (const l of lines.slice(1)) {
    const j = parseJson(l) as Record<string, unknown> | undefined;
    if (!j) out.errors.output = `not JSON: ${l.slice(0, 120)}`;
    else if (j.errors) Object.assign(out.errors, j.errors);
    else out.records.push(j);
  }
  return out;
}

/** The "programs" step for one program: it loaded and attached (no error, the agent held all 6 attachments and exited 0), then `see` judges its records. */
function judgeProgram(run: GuestRun, program: string, see: (r: ProgramsRun, recs: Array<Record<string, unknown>>) => string | Cell): Cell {
  const s = step(run, "programs");
  if (!s) return fail("no result from collect --collectors tcpflow,oomkill,procexit");
  const r = readPrograms(s);
  if (r.errors[program]) return fail(r.errors[program]!.slice(0, 200));
  if (s.exitCode > 128) return fail(`the agent was killed by ${signalName(s.exitCode - 128)} (exit ${s.exitCode})`);
  if (s.exitCode !== 0 || Object.keys(r.errors).length)
    return fail(
      `exit ${s.exitCode}: ${JSON.stringify(r.errors).slice(0, 200)} ${(step(run, "programs-stderr")?.output ?? "").slice(0, 200)}`,
    );
  if (r.header?.attached !== "yes") return fail("the agent never held its six tracepoint attachments");
  const v = see(
    r,
    r.records.filter((x) => x.program === program),
  );
  return typeof v === "string" ? { ok: true, text: v } : v;
}

/** The nc exchange from both ends: connect, accept and two closes with 7 payload bytes each way. */
export function judgeTcpflow(run: GuestRun): Cell {
  return judgeProgram(run, "tcpflow", (r, recs) => {
    const port = r.header?.port;
    if (r.header?.echoed !== r.header?.sent)
      return fail(`the nc exchange did not complete (echoed ${r.header?.echoed} of ${r.header?.sent})`);
    const ok = (x: Record<string, unknown>) => x.failed !== true;
    const out = recs.filter((x) => x.dport === port && x.direction === "outbound" && ok(x));
    const inn = recs.filter((x) => x.sport === port && x.direction === "inbound");
    const connect = out.find((x) => x.kind === "connect");
    const accept = inn.find((x) => x.kind === "accept");
    const bytes = (x: Record<string, unknown> | undefined) => (x ? `${x.bytes_sent}/${x.bytes_received}` : "none");
    const cOut = out.find((x) => x.kind === "close");
    const cIn = inn.find((x) => x.kind === "close");
    const problems: string[] = [];
    if (!connect) problems.push("no connect");
    if (!accept) problems.push("no accept");
    if (bytes(cOut) !== "7/7") problems.push(`client close bytes ${bytes(cOut)}, want 7/7`);
    if (bytes(cIn) !== "7/7") problems.push(`server close bytes ${bytes(cIn)}, want 7/7`);
    if (problems.length) return fail(problems.join(", "));
    return "ok (3 tracepoints; connect, accept, 2 closes, 7 B each way)";
  });
}

/** An OOM kill in the step's memory-limited cgroup names the killed shell's pid. */
export function judgeOomkill(run: GuestRun): Cell {
  return judgeProgram(run, "oomkill", (r, recs) => {
    const pid = r.header?.oom_pid;
    if (!pid) return fail("the OOM step did not run");
    if (!recs.some((x) => x.pid === pid)) return fail(`no OOM kill of pid ${pid} (saw ${recs.map((x) => x.pid).join(",") || "none"})`);
    return "ok (2 tracepoints; the OOM kill seen)";
  });
}

/** Every /bin/true of the step seen to exec and exit with its pid. */
export function judgeProcexit(run: GuestRun): Cell {
  return judgeProgram(run, "procexit", (r, recs) => {
    const pids = r.header?.procs ?? [];
    if (pids.length === 0) return fail("no processes were run");
    const seen = (kind: string, pid: number) =>
      recs.some((x) => x.kind === kind && x.pid === pid && (kind === "exit" || x.comm === "true"));
    const missing = pids.filter((p) => !seen("exec", p) || !seen("exit", p));
    if (missing.length) return fail(`${missing.length} of ${pids.length} processes without exec+exit`);
    return `ok (2 tracepoints; ${pids.length}/${pids.length} exec+exit)`;
  });
}

export function judge(kernel: KernelSpec, run: GuestRun, bootSeconds: number, accel: "kvm" | "tcg"): KernelResult {
  const judges: Record<Column, (r: GuestRun) => Cell> = {
    check: judgeCheck,
    "execsnoop load+attach": judgeExecsnoopLoad,
    "execsnoop capture": judgeExecsnoopCapture,
    collect: judgeCollect,
    "no BTF": judgeNoBtf,
    tcpflow: judgeTcpflow,
    oomkill: judgeOomkill,
    procexit: judgeProcexit,
  };
  const cells: KernelResult["cells"] = {};
  for (const col of columnsFor(kernel.arch)) {
    cells[col] = !run.booted ? fail("guest did not boot") : judges[col](run);
  }
  return { kernel, release: run.booted?.release ?? "?", cells, bootSeconds, accel };
}

/** Markdown table: kernel x program -> result. */
export function renderTable(results: KernelResult[]): string {
  const head = ["kernel", "arch", "release (uname -r)", ...PROGRAM_COLUMNS];
  const rows = results.map((r) => [
    `${r.kernel.id.replace(/-(amd64|arm64)$/, "")} (${r.kernel.suite})`,
    `${r.kernel.arch === "amd64" ? "x86-64" : "arm64"} (${r.accel.toUpperCase()})`,
    r.release,
    ...PROGRAM_COLUMNS.map((c) => r.cells[c]?.text ?? "not run (emulated arm64: smallest set)"),
  ]);
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n") + "\n";
}

/**
 * The result cells of the kernel matrix table in a markdown page, keyed "kernel/arch|column". The
 * release column is left out (it names the patch level) and so is the accelerator in the arch
 * column (KVM or TCG depends on the machine). Throws when the page has no matrix table.
 */
export function matrixCells(markdown: string): Map<string, string> {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => l.startsWith("| kernel |"));
  if (start < 0) throw new Error('no kernel matrix table (a line starting with "| kernel |")');
  const end = lines.findIndex((l, i) => i > start && !l.startsWith("| "));
  const rows = lines.slice(start, end < 0 ? undefined : end).filter((l) => !l.startsWith("| ---"));
  const split = (row: string) =>
    row
      .split("|")
      .map((c) => c.trim())
      .slice(1, -1);
  const head = split(rows[0]!);
  const out = new Map<string, string>();
  for (const row of rows.slice(1)) {
    const cells = split(row);
    if (cells.length !== head.length) throw new Error(`kernel matrix row has ${cells.length} cells, header has ${head.length}: ${row}`);
    const arch = cells[1]!.replace(/ \(.*\)$/, "");
    for (let i = 3; i < head.length; i++) out.set(`${cells[0]}/${arch}|${head[i]}`, cells[i]!);
  }
  return out;
}
