// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Process listing for the runtime graph: pid, ppid, pgid, sid, command, cmdline, state and start time
// from <proc>/<pid>/{stat,cmdline}, each process attached to its container through <proc>/<pid>/cgroup,
// and the bounded policy deciding which processes get nodes.

import { auxvValues } from "../perf/collectors/common.ts";
import type { HostIo } from "../perf/io.ts";
import { extractContainerId } from "../perf/parsers/cgroup.ts";
import type { ContainerInfo } from "./discover.ts";
import { parseCmdline, parseProcCgroup, parseStatLite } from "./parse.ts";

export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  command: string;
  cmdline: string;
  /** The state letter of <pid>/stat. */
  state: string;
  /** Epoch ms (boot time + start ticks / USER_HZ). */
  startMs: number;
  /** The container's id, "" for a host process. */
  container: string;
}

/** Which processes get nodes (docs/runtime-graph.md "Policy"). */
export interface ProcessPolicy {
  /** A process younger than this at the scan gets no node yet (it will at the next scan if it is still there). */
  minAgeMs: number;
  /** Processes per container, lowest PIDs first. */
  maxPerContainer: number;
  /** Processes on the host, lowest PIDs first. */
  maxTotal: number;
}

export const DEFAULT_PROCESS_POLICY: ProcessPolicy = { minAgeMs: 5000, maxPerContainer: 256, maxTotal: 4096 };

export type LeftOutReason = "kernel_thread" | "young" | "container_cap" | "host_cap";
export const LEFT_OUT_REASONS: readonly LeftOutReason[] = ["kernel_thread", "young", "container_cap", "host_cap"];

/** Maps a process's cgroup paths to the container holding it (its own cgroup or an ancestor's). */
export function containerMatcher(containers: ContainerInfo[], version: 1 | 2, subsystem: string): (cgroupText: string) => string {
  const byPath = new Map(containers.map((c) => [c.relPath, c.id]));
  const byId = new Set(containers.map((c) => c.id));
  const memo = new Map<string, string>(); // processes of one container share their cgroup file's text
  return (text) => {
    const hit = memo.get(text);
    if (hit !== undefined) return hit;
    const id = matchOne(text);
    memo.set(text, id);
    return id;
  };
  function matchOne(text: string): string {
    for (const line of parseProcCgroup(text)) {
      if (version === 2 ? line.controllers !== "" : !line.controllers.split(",").includes(subsystem)) continue;
      // Inside a cgroup namespace the path is relative to the agent's own cgroup ("../../kubepods/..."): match by id then.
      const path = line.path.replace(/^(\.\.\/)+/, "");
      for (let p = path; p; p = p.slice(0, Math.max(0, p.lastIndexOf("/")))) {
        const hit = byPath.get(p);
        if (hit) return hit;
        const id = extractContainerId(p);
        if (id && byId.has(id)) return id;
      }
    }
    return "";
  }
}

interface Cached {
  startTicks: number;
  /** What the last scan returned for the process (its command and cmdline included): returned again, the same object, while nothing in it changed (the plan keys its work by object). */
  info: ProcessInfo;
  cgroup: string;
  /** The scan that last saw the process (entries not seen by the current scan are dropped). */
  seen: number;
}

/** Scans between re-reads of every process's cgroup file (a process moved to another cgroup without an exec). */
const CGROUP_REFRESH_SCANS = 10;

/**
 * Reads processes. cmdline and cgroup are read again only for a process not seen before (pid and start
 * time) or whose command changed (an exec keeps the pid and start time but sets a new comm); cgroup
 * also every CGROUP_REFRESH_SCANS scans for every process.
 */
export class ProcessLister {
  private readonly cmdlines = new Map<number, Cached>();
  private bootMs = 0;
  private scans = 0;
  constructor(
    private readonly io: HostIo,
    private readonly procRoot: string,
  ) {}

  /** Forgets a process's cached cmdline (after an exec event). */
  invalidate(pid: number): void {
    this.cmdlines.delete(pid);
  }

  private async boot(signal: AbortSignal): Promise<number> {
    if (this.bootMs) return this.bootMs;
    const stat = await this.io.read(`${this.procRoot}/stat`, signal);
    const m = /^btime (\d+)$/m.exec(stat);
    if (!m) throw new Error(`no btime in ${this.procRoot}/stat`);
    this.bootMs = Number(m[1]) * 1000;
    return this.bootMs;
  }

  /** Every process in <proc>, attached by `match`; kernel threads (kthreadd and its children) are left out and counted. */
  async list(match: (cgroupText: string) => string, signal: AbortSignal): Promise<{ processes: ProcessInfo[]; kernelThreads: number }> {
    const [bootMs, { hz }] = await Promise.all([this.boot(signal), auxvValues(this.procRoot)]);
    const fullCgroups = this.scans++ % CGROUP_REFRESH_SCANS === 0;
    // Like the stat reads below, in place: procfs answers from memory (a fixture tree stands in for it in tests).
    const listed = this.io.listSyncSoft(this.procRoot);
    if (!listed.names) throw new Error(`listing ${this.procRoot}: ${listed.code}`);
    const out: ProcessInfo[] = [];
    const scan = this.scans;
    let kernelThreads = 0;
    const fresh: ProcessInfo[] = [];
    for (const name of listed.names) {
      const c0 = name.charCodeAt(0);
      if (c0 < 48 || c0 > 57) continue;
      const stat = this.io.readSyncSoft(`${this.procRoot}/${name}/stat`, true).text;
      const s = stat ? parseStatLite(stat) : undefined;
      if (!s) continue; // exited since the listing
      if (s.pid === 2 || s.ppid === 2) {
        kernelThreads++;
        continue;
      }
      const cached = this.cmdlines.get(s.pid);
      // An exec keeps the pid and start time but sets a new comm: then cmdline and cgroup are read again.
      const prev = cached?.startTicks === s.startTicks && cached.info.command === s.command ? cached.info : undefined;
      const cgroup = prev && !fullCgroups ? cached!.cgroup : (this.io.readSyncSoft(`${this.procRoot}/${name}/cgroup`, true).text ?? "");
      const container = match(cgroup);
      const unchanged =
        prev &&
        prev.ppid === s.ppid &&
        prev.pgid === s.pgid &&
        prev.sid === s.sid &&
        prev.state === s.state &&
        prev.container === container;
      const info: ProcessInfo = unchanged
        ? prev
        : {
            pid: s.pid,
            ppid: s.ppid,
            pgid: s.pgid,
            sid: s.sid,
            command: s.command,
            cmdline: prev?.cmdline ?? "",
            state: s.state,
            startMs: bootMs + Math.floor((s.startTicks * 1000) / hz),
            container,
          };
      if (!prev) fresh.push(info);
      out.push(info);
      if (!cached) this.cmdlines.set(s.pid, { startTicks: s.startTicks, info, cgroup, seen: scan });
      else Object.assign(cached, { startTicks: s.startTicks, info, cgroup, seen: scan }); // in place: no entry per process per scan
    }
    // cmdline takes the process's mm lock: read on the pool, only for processes not seen before.
    await Promise.all(
      fresh.map(async (p) => {
        const raw = await this.io.readOptional(`${this.procRoot}/${p.pid}/cmdline`, signal);
        p.cmdline = raw ? parseCmdline(raw) : ""; // the cached entry holds this same object
      }),
    );
    for (const [pid, c] of this.cmdlines) if (c.seen !== scan) this.cmdlines.delete(pid);
    out.sort((a, b) => a.pid - b.pid);
    return { processes: out, kernelThreads };
  }
}

/** The processes that get nodes under `policy` (input sorted by pid), and how many were left out, by reason. */
export function applyPolicy(
  processes: ProcessInfo[],
  policy: ProcessPolicy,
  nowMs: number,
): { kept: ProcessInfo[]; leftOut: Record<Exclude<LeftOutReason, "kernel_thread">, number> } {
  const leftOut = { young: 0, container_cap: 0, host_cap: 0 };
  const perContainer = new Map<string, number>();
  const kept: ProcessInfo[] = [];
  for (const p of processes) {
    if (nowMs - p.startMs < policy.minAgeMs) {
      leftOut.young++;
      continue;
    }
    if (p.container) {
      const n = perContainer.get(p.container) ?? 0;
      if (n >= policy.maxPerContainer) {
        leftOut.container_cap++;
        continue;
      }
      perContainer.set(p.container, n + 1);
    }
    if (kept.length >= policy.maxTotal) {
      leftOut.host_cap++;
      continue;
    }
    kept.push(p);
  }
  return { kept, leftOut };
}
