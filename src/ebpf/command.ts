// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** `antimetal-agent collect --collectors execsnoop --duration 5s`: trace execs, print them as JSON. */

import { errorMessage } from "../util/errors.ts";
import { stringifyExact } from "../util/json.ts";
import { createExecsnoopCollector, type ExecsnoopOptions } from "./execsnoop.ts";
import { type TraceCommandOptions, type TraceCommandResult, traceFor, traceJsonLines, traceStartFailed } from "./json-command.ts";

export interface ExecsnoopCommandOptions extends TraceCommandOptions {
  collector?: ExecsnoopOptions;
}

export async function runExecsnoopCommand(opts: ExecsnoopCommandOptions): Promise<TraceCommandResult> {
  const format = opts.format ?? "jsonl";
  const maxEvents = opts.maxEvents ?? 100_000;
  const events: unknown[] = [];
  let overflow = 0;
  const collector = createExecsnoopCollector({ logger: opts.logger, ...opts.collector });
  try {
    await collector.start((ev) => {
      if (events.length < maxEvents) events.push(ev.data);
      else overflow++;
    });
  } catch (e) {
    return traceStartFailed("execsnoop", format, errorMessage(e));
  }
  await traceFor(opts.durationMs, opts.signal);
  await collector.stop();
  const stats = collector.stats();
  const summary = {
    events: stats.events,
    lost: stats.lostRingbufFull + stats.lostPendingFull,
    rejected: stats.rejected,
    not_printed: overflow,
  };
  if (format === "json") {
    return { output: stringifyExact({ execsnoop: events, execsnoop_summary: summary }, 2) + "\n", exitCode: 0 };
  }
  return traceJsonLines(events);
}
