// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// process collector: the top N processes by CPU% from <proc>/<pid>/stat, with status, fd count and
// PSS/USS from smaps_rollup for those N.

import type { HostPaths, PointCollector } from "../collector.ts";
import { errCode } from "../io.ts";
import { type PidStat, parsePidStat, parsePidStatTicks, parsePidStatus, parseSmapsRollup } from "../parsers/pid.ts";
import { parseStat } from "../parsers/stat.ts";
import { auxvValues, BaseCollector, type CollectorOptions, spec } from "./common.ts";

export interface ProcessStats {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  command: string;
  state: string;
  /** utime + stime in USER_HZ ticks. */
  cpu_time: bigint;
  cpu_percent: number;
  memory_vsz: bigint;
  memory_rss: bigint;
  memory_pss: bigint;
  memory_uss: bigint;
  threads: number;
  minor_faults: bigint;
  major_faults: bigint;
  start_time: string;
  nice: number;
  priority: number;
  num_fds: number;
  num_threads: number;
  voluntary_ctxt: bigint;
  involuntary_ctxt: bigint;
}

/** PIDs read per event-loop turn. */
const PID_BATCH = 512;

/**
 * Top N processes by CPU% (default 20). A minimal pass reads every <pid>/stat; the top N then get
 * status, fd count and smaps_rollup (all optional). CPU% is the tick delta since the previous pass.
 *
 * Fixes over the original: a PID whose tick count went down (PID reuse) gets 0% instead of a u64 wrap;
 * permission errors on other users' files are counted in antimetal_collector_errors_total and logged
 * once per file kind, not once per PID per cycle. The collector also answers one-shot `collect`.
 */
export class ProcessCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("process", "Process Statistics Collector", true, true, "2.6.0");
  private lastTicks = new Map<number, number>();
  private lastTime = 0;
  private readonly logged = new Set<string>();
  readonly topN: number;
  /** smaps_rollup values by pid with the time they were read (the kernel walks every page table to answer). */
  private smapsCache = new Map<number, { at: number; startTime: bigint; v: ReturnType<typeof parseSmapsRollup> | undefined }>();
  private btime: bigint | undefined;
  readonly smapsMaxAgeMs: number;
  /** Permission errors seen, by file kind (stat, status, fd, smaps_rollup). */
  readonly permissionErrors = new Map<string, number>();
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc"]);
    this.topN = opts.topProcessCount && opts.topProcessCount > 0 ? opts.topProcessCount : 20;
    this.smapsMaxAgeMs = opts.processSmapsMaxAgeMs ?? 60_000;
  }

  /**
   * PSS/USS for one process. /proc/<pid>/smaps_rollup makes the kernel walk the page tables of the
   * whole address space: ~100 ms for a process with a multi-GiB heap on this VM, more than every other
   * collector together. The value is reused for `processSmapsMaxAgeMs` (default 60 s; 0 reads it every time).
   */
  private async smaps(pid: number, startTime: bigint, base: string, now: number, signal: AbortSignal) {
    const hit = this.smapsCache.get(pid);
    if (hit && hit.startTime === startTime && now - hit.at < this.smapsMaxAgeMs) return hit.v;
    const text = await this.io.read(`${base}/smaps_rollup`, signal).catch((e) => {
      if (signal.aborted) throw e;
      this.soft("smaps_rollup", e);
      return undefined;
    });
    // failures (kernel threads, permission) are cached too, so they are not retried every cycle
    const v = text === undefined ? undefined : parseSmapsRollup(text);
    this.smapsCache.set(pid, { at: now, startTime, v });
    return v;
  }

  private soft(kind: string, e: unknown): void {
    const code = errCode(e) ?? "error";
    if (code === "ENOENT" || code === "ESRCH") return; // the process exited
    if (code === "EACCES" || code === "EPERM") this.permissionErrors.set(kind, (this.permissionErrors.get(kind) ?? 0) + 1);
    const key = `${kind}:${code}`;
    if (!this.logged.has(key)) {
      this.logged.add(key);
      this.opts.logger?.warn({ file: kind, code }, "cannot read per-process file; further errors of this kind are counted, not logged");
    }
  }

  async collect(signal: AbortSignal): Promise<ProcessStats[]> {
    const proc = this.paths.proc;
    const entries = await this.io.list(proc, signal).catch((e: Error) => {
      throw signal.aborted ? e : new Error(`failed to read ${proc}: ${e.message}`);
    });
    const pids = entries.filter((d) => /^\d+$/.test(d.name)).map((d) => Number(d.name));
    const { hz, page } = await auxvValues(proc);
    if (this.btime === undefined) {
      const statTxt = await this.io.readOptional(`${proc}/stat`, signal);
      this.btime = statTxt !== undefined ? parseStat(statTxt).btime : undefined;
    }
    const btime = this.btime ?? 0n;
    const now = this.now();
    let secs = (now - this.lastTime) / 1000;
    if (this.lastTime === 0 || secs <= 0) secs = 1;
    // Per-PID stat files are read synchronously in batches, yielding to the event loop between batches
    // so a host with tens of thousands of PIDs cannot hold it for long (see HostIo.readSyncSoft). The
    // minimal pass extracts only the tick count; the full record is parsed for the top N.
    const ticks = new Map<number, number>();
    const scored: { text: string; pid: number; pct: number; cpu: number }[] = [];
    for (let i = 0; i < pids.length; i += PID_BATCH) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error("aborted");
      for (const pid of pids.slice(i, i + PID_BATCH)) {
        const r = this.io.readSyncSoft(`${proc}/${pid}/stat`);
        if (r.text === undefined) {
          this.soft("stat", { code: r.code });
          continue;
        }
        const m = parsePidStatTicks(r.text);
        if (!m) {
          this.malformed(1);
          continue;
        }
        ticks.set(m.pid, m.ticks);
        const prev = this.lastTicks.get(m.pid);
        const pct = prev !== undefined && m.ticks >= prev ? ((m.ticks - prev) / hz / secs) * 100 : 0;
        scored.push({ text: r.text, pid: m.pid, pct, cpu: m.ticks });
      }
    }
    this.lastTicks = ticks;
    this.lastTime = now;
    for (const pid of this.smapsCache.keys()) if (!ticks.has(pid)) this.smapsCache.delete(pid);
    scored.sort((a, b) => b.pct - a.pct || b.cpu - a.cpu);
    const top = scored
      .slice(0, this.topN)
      .map((x) => ({ s: parsePidStat(x.text), pct: x.pct }))
      .filter((x): x is { s: PidStat; pct: number } => x.s !== undefined);
    return Promise.all(
      top.map(async ({ s, pct }): Promise<ProcessStats> => {
        const cpu = s.utime + s.stime;
        const base = `${proc}/${s.pid}`;
        const status = this.io.readSyncSoft(`${base}/status`);
        if (status.code) this.soft("status", { code: status.code });
        const statusTxt = status.text;
        const fdCount = this.io.fdCountSoft(`${base}/fd`);
        if (fdCount.code) this.soft("fd", { code: fdCount.code });
        const smaps = await this.smaps(s.pid, s.startTime, base, now, signal);
        const st = statusTxt ? parsePidStatus(statusTxt) : undefined;
        const sm = smaps;
        const startMs = Number(btime) * 1000 + (Number(s.startTime) * 1000) / hz;
        return {
          pid: s.pid,
          ppid: s.ppid,
          pgid: s.pgid,
          sid: s.sid,
          command: s.command,
          state: s.state,
          cpu_time: cpu,
          cpu_percent: pct,
          memory_vsz: s.vsizeBytes,
          memory_rss: s.rssPages * BigInt(page),
          memory_pss: sm?.pss ?? 0n,
          memory_uss: sm?.uss ?? 0n,
          threads: s.threads,
          minor_faults: s.minorFaults,
          major_faults: s.majorFaults,
          start_time: new Date(Math.round(startMs)).toISOString(),
          nice: s.nice,
          priority: s.priority,
          num_fds: fdCount.count ?? 0,
          num_threads: st?.threads ?? 0,
          voluntary_ctxt: st?.voluntaryCtxt ?? 0n,
          involuntary_ctxt: st?.nonvoluntaryCtxt ?? 0n,
        };
      }),
    );
  }
}
