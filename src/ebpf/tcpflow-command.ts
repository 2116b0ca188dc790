// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** `antimetal-agent collect --collectors tcpflow --duration 5s`: trace TCP connections, print them as JSON lines. */

import { errorMessage } from "../util/errors.ts";
import { stringifyExact } from "../util/json.ts";
import { type TraceCommandOptions, type TraceCommandResult, traceFor, traceJsonLines, traceStartFailed } from "./json-command.ts";
import { flowRecordJson, TcpflowCollector, type TcpflowOptions } from "./tcpflow.ts";

export interface TcpflowCommandOptions extends TraceCommandOptions {
  collector?: TcpflowOptions;
}

export async function runTcpflowCommand(opts: TcpflowCommandOptions): Promise<TraceCommandResult> {
  const format = opts.format ?? "jsonl";
  const maxEvents = opts.maxEvents ?? 100_000;
  const records: unknown[] = [];
  let overflow = 0;
  const collector = new TcpflowCollector({ logger: opts.logger, ...opts.collector });
  try {
    await collector.start((f) => {
      if (records.length < maxEvents) records.push(flowRecordJson(f, collector.wallMs(f.tsNs)));
      else overflow++;
    });
  } catch (e) {
    return traceStartFailed("tcpflow", format, errorMessage(e));
  }
  await traceFor(opts.durationMs, opts.signal);
  await collector.stop();
  if (format === "json") {
    const s = collector.stats();
    const summary = { ...s, lost: s.lostRingbufFull + s.lostTableFull, not_printed: overflow };
    return { output: stringifyExact({ tcpflow: records, tcpflow_summary: summary }, 2) + "\n", exitCode: 0 };
  }
  return traceJsonLines(records);
}
