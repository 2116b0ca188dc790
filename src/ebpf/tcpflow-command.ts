// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** `antimetal-agent collect --collectors tcpflow --duration 5s`: trace TCP connections, print them as JSON lines. */

import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../util/errors.ts";
import { stringifyExact } from "../util/json.ts";
import { flowRecordJson, TcpflowCollector, type TcpflowOptions } from "./tcpflow.ts";

export interface TcpflowCommandOptions {
  durationMs: number;
  signal?: AbortSignal;
  /** "jsonl" (default): one flow record per line. "json": one object {"tcpflow": [...], "tcpflow_summary": {...}}. */
  format?: "jsonl" | "json";
  /** Records kept for output; more are counted (not_printed), not kept (default 100000). */
  maxEvents?: number;
  logger?: Logger;
  collector?: TcpflowOptions;
}

export async function runTcpflowCommand(opts: TcpflowCommandOptions): Promise<{ output: string; exitCode: number }> {
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
    const msg = errorMessage(e);
    return {
      output:
        format === "json"
          ? stringifyExact({ tcpflow: [], errors: { tcpflow: msg } }, 2) + "\n"
          : stringifyExact({ errors: { tcpflow: msg } }) + "\n",
      exitCode: 1,
    };
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, opts.durationMs);
    opts.signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
  await collector.stop();
  if (format === "json") {
    const s = collector.stats();
    const summary = { ...s, lost: s.lostRingbufFull + s.lostTableFull, not_printed: overflow };
    return { output: stringifyExact({ tcpflow: records, tcpflow_summary: summary }, 2) + "\n", exitCode: 0 };
  }
  const lines = records.map((r) => stringifyExact(r));
  return { output: lines.join("\n") + (lines.length ? "\n" : ""), exitCode: 0 };
}
