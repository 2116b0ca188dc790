// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * `antimetal-agent collect --collectors oomkill,procexit[,tcpflow] --duration 5s`: loads and
 * attaches each named program at once, records for --duration (or until SIGINT/SIGTERM), and prints
 * one JSON line per record, each naming its "program". One agent start proves all three programs on a kernel (the kernel
 * matrix's guests run it). Any program that cannot start is reported under "errors" and the
 * command exits 1; the others still record.
 */

import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../util/errors.ts";
import { stringifyExact } from "../util/json.ts";
import { type TraceCommandResult, traceFor } from "./json-command.ts";
import { OomkillCollector, type OomkillOptions } from "./oomkill.ts";
import { createProcexitTracer } from "./procexit.ts";
import { flowRecordJson, TcpflowCollector } from "./tcpflow.ts";

export const PROGRAM_COLLECTORS = ["tcpflow", "oomkill", "procexit"] as const;
export type ProgramCollector = (typeof PROGRAM_COLLECTORS)[number];

export interface ProgramsCommandOptions {
  programs: readonly ProgramCollector[];
  durationMs: number;
  signal?: AbortSignal;
  /** Records kept for output; more are counted (not_printed), not kept (default 100000). */
  maxEvents?: number;
  logger?: Logger;
  /** oomkill: a cgroup's path by id, for a victim reaped before its /proc entry was read (the command's caller wires one). */
  cgroupPathOfId?: OomkillOptions["cgroupPathOfId"];
}

export async function runProgramsCommand(opts: ProgramsCommandOptions): Promise<TraceCommandResult> {
  const maxEvents = opts.maxEvents ?? 100_000;
  const records: unknown[] = [];
  let overflow = 0;
  const keep = (r: unknown) => {
    if (records.length < maxEvents) records.push(r);
    else overflow++;
  };
  const errors: Record<string, string> = {};
  const stops: Array<() => Promise<void>> = [];
  const want = new Set(opts.programs);
  if (want.has("tcpflow")) {
    const c = new TcpflowCollector({ logger: opts.logger });
    try {
      await c.start((f) => keep({ program: "tcpflow", ...flowRecordJson(f, c.wallMs(f.tsNs)) }));
      stops.push(() => c.stop());
    } catch (e) {
      errors.tcpflow = errorMessage(e);
    }
  }
  if (want.has("oomkill")) {
    const c = new OomkillCollector({
      logger: opts.logger,
      cgroupPathOfId: opts.cgroupPathOfId,
      onKill: (k) =>
        keep({
          program: "oomkill",
          time: k.time,
          pid: k.victimPid,
          comm: k.comm,
          cgroup: k.cgroup,
          trigger_pid: k.triggerPid,
          trigger_comm: k.triggerComm,
          memcg_id: k.memcgId,
          victim_cgroup_id: k.victimCgroupId,
          victim_memcg_id: k.victimMemcgId,
          anon_rss_kb: k.anonRssKb,
          total_vm_kb: k.totalVmKb,
        }),
    });
    try {
      await c.start();
      stops.push(() => c.stop());
    } catch (e) {
      errors.oomkill = errorMessage(e);
    }
  }
  if (want.has("procexit")) {
    const t = createProcexitTracer({ logger: opts.logger });
    try {
      await t.start((events) => {
        for (const e of events) keep({ program: "procexit", kind: e.kind, pid: e.pid, ppid: e.ppid, comm: e.comm });
      });
      stops.push(() => t.stop());
    } catch (e) {
      errors.procexit = errorMessage(e);
    }
  }
  // SIGINT/SIGTERM end the recording early and still print it (a caller that knows when it is done).
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  opts.signal?.addEventListener("abort", onSignal, { once: true });
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  if (stops.length > 0) await traceFor(opts.durationMs, ac.signal);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  for (const stop of stops) await stop();
  const lines = records.map((r) => stringifyExact(r));
  if (overflow > 0) lines.push(stringifyExact({ not_printed: overflow }));
  const failed = Object.keys(errors).length > 0;
  if (failed) lines.push(stringifyExact({ errors }));
  return { output: lines.join("\n") + (lines.length ? "\n" : ""), exitCode: failed ? 1 : 0 };
}
