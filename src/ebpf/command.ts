// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** `antimetal-agent collect --collectors execsnoop --duration 5s`: trace execs, print them as JSON. */

import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../util/errors.ts";
import { stringifyExact } from "../util/json.ts";
import { createExecsnoopCollector, type ExecsnoopOptions } from "./execsnoop.ts";

export interface ExecsnoopCommandOptions {
  durationMs: number;
  signal?: AbortSignal;
  /** "jsonl" (default): one event per line. "json": one object {"execsnoop": [...]} (errors under "errors"). */
  format?: "jsonl" | "json";
  /** Events kept for output; more are counted and reported, not kept (default 100000). */
  maxEvents?: number;
  logger?: Logger;
  collector?: ExecsnoopOptions;
}

export async function runExecsnoopCommand(opts: ExecsnoopCommandOptions): Promise<{ output: string; exitCode: number }> {
  const format = opts.format ?? "jsonl";
  const maxEvents = opts.maxEvents ?? 100_000;
  const events: unknown[] = [];
  let overflow = 0;
  const collector = createExecsnoopCollector({ logger: opts.logger, ...opts.collector });
  const fail = (msg: string) => ({
    output:
      format === "json"
        ? stringifyExact({ execsnoop: [], errors: { execsnoop: msg } }, 2) + "\n"
        : stringifyExact({ errors: { execsnoop: msg } }) + "\n",
    exitCode: 1,
  });
  try {
    await collector.start((ev) => {
      if (events.length < maxEvents) events.push(ev.data);
      else overflow++;
    });
  } catch (e) {
    return fail(errorMessage(e));
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
  const lines = events.map((e) => stringifyExact(e));
  return { output: lines.join("\n") + (lines.length ? "\n" : ""), exitCode: 0 };
}
