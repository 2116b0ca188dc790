// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** What the `collect` commands of the eBPF tracers (execsnoop, tcpflow) share: options, the wait, the output forms. */

import type { Logger } from "../log/logger.ts";
import { stringifyExact } from "../util/json.ts";

export interface TraceCommandOptions {
  durationMs: number;
  signal?: AbortSignal;
  /** "jsonl" (default): one record per line. "json": one object {"<name>": [...], "<name>_summary": {...}} (errors under "errors"). */
  format?: "jsonl" | "json";
  /** Records kept for output; more are counted (not_printed), not kept (default 100000). */
  maxEvents?: number;
  logger?: Logger;
}

export interface TraceCommandResult {
  output: string;
  exitCode: number;
}

/** The result when tracer `name` could not start: the message under "errors" (and an empty list in "json" format); exit 1. */
export function traceStartFailed(name: string, format: "jsonl" | "json", msg: string): TraceCommandResult {
  return {
    output:
      format === "json"
        ? stringifyExact({ [name]: [], errors: { [name]: msg } }, 2) + "\n"
        : stringifyExact({ errors: { [name]: msg } }) + "\n",
    exitCode: 1,
  };
}

/** Resolves after durationMs, or earlier when signal aborts. */
export function traceFor(durationMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, durationMs);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/** The records as JSON lines ("jsonl" format); exit 0. */
export function traceJsonLines(records: readonly unknown[]): TraceCommandResult {
  const lines = records.map((r) => stringifyExact(r));
  return { output: lines.join("\n") + (lines.length ? "\n" : ""), exitCode: 0 };
}
