// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// When to scan on live process events (exits and execs from eBPF): at once for a process that has a
// node, when an exec'd process reaches the minimum age (if it is still alive), and never more often
// than every EVENT_SCAN_GAP_MS.

import type { Logger } from "../log/logger.ts";
import type { HostIo } from "../perf/io.ts";
import { errorMessage } from "../util/errors.ts";
import { droppedPids, eventScans } from "./metrics.ts";

/** Event-triggered scans are at least this far apart (a storm of events costs at most 1000/GAP scans a second). */
export const EVENT_SCAN_GAP_MS = 500;
/** A young process's recheck is due in buckets of this width (so pending checks are bounded by minAge / bucket). */
const DUE_BUCKET_MS = 250;
const MAX_PIDS_PER_BUCKET = 64;

export interface LiveEvent {
  kind: "exit" | "exec";
  pid: number;
}

export interface LiveSchedulerOptions {
  minAgeMs: number;
  procRoot: string;
  io: HostIo;
  /** Runs one scan (serialised with the others by the caller). */
  scan(): Promise<unknown>;
  /** Forgets what is cached about a process (its exec changed it). */
  invalidate(pid: number): void;
  logger: Logger;
}

export class LiveScheduler {
  /** Pids with a node (set by the scan before it writes): events about other pids only matter once they are old enough. */
  nodePids = new Set<number>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = 0;
  private lastScan = 0;
  private pending: "exit" | "exec" | undefined;
  /** Due time -> pids that exec'd and reach the minimum age then. */
  private readonly due = new Map<number, number[]>();
  private stopped = false;

  constructor(private readonly opts: LiveSchedulerOptions) {}

  onEvents(events: LiveEvent[]): void {
    for (const ev of events) {
      if (this.nodePids.has(ev.pid)) {
        if (ev.kind === "exec") this.opts.invalidate(ev.pid);
        this.pending ??= ev.kind;
      } else if (ev.kind === "exec") {
        const at = Math.ceil((Date.now() + this.opts.minAgeMs + 50) / DUE_BUCKET_MS) * DUE_BUCKET_MS;
        const pids = this.due.get(at) ?? [];
        if (pids.length < MAX_PIDS_PER_BUCKET) pids.push(ev.pid);
        else droppedPids.inc();
        this.due.set(at, pids);
      }
    }
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.stopped) return;
    let at = this.pending ? Date.now() : Math.min(...this.due.keys());
    if (!Number.isFinite(at)) return;
    at = Math.max(at, this.lastScan + EVENT_SCAN_GAP_MS);
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - Date.now()));
    this.timer.unref?.();
  }

  private fire(): void {
    this.timer = undefined;
    const now = Date.now();
    let trigger: string | undefined = this.pending;
    this.pending = undefined;
    for (const [at, pids] of this.due) {
      if (at > now) continue;
      this.due.delete(at);
      if (!trigger && pids.some((pid) => this.opts.io.readSyncSoft(`${this.opts.procRoot}/${pid}/stat`).text !== undefined))
        trigger = "young";
    }
    if (!trigger) {
      this.arm();
      return;
    }
    this.lastScan = now;
    eventScans.inc({ trigger });
    this.opts
      .scan()
      .catch((e) => this.opts.logger.warn({ err: errorMessage(e) }, "runtime graph scan on process events failed"))
      .finally(() => this.arm());
  }
}
