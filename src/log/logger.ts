// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import pino, { type Logger } from "pino";

export type { Logger };
export type LogFormat = "json" | "text";
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Field names whose values are never written to a log line. */
const REDACT = [
  "apiKey",
  "intakeApiKey",
  "authorization",
  "token",
  "password",
  "*.apiKey",
  "*.intakeApiKey",
  "*.authorization",
  "*.token",
  "*.password",
];

/** Renders one pino JSON record as `time level [component] msg key=value ...`. */
function textLine(record: string): string {
  try {
    const { time, level, component, msg, pid: _pid, hostname: _h, ...rest } = JSON.parse(record);
    const extras = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
    const when = new Date(time).toISOString();
    return `${when} ${String(level).toUpperCase().padEnd(5)} [${component ?? "agent"}] ${msg ?? ""}${extras ? " " + extras : ""}\n`;
  } catch {
    return record;
  }
}

/**
 * The agent's root logger: structured JSON on stderr by default, one line per record, with the
 * component name in every line (children made with `logger.child({ component })`).
 */
export function createLogger(opts: { level?: LogLevel; format?: LogFormat; destination?: NodeJS.WritableStream } = {}): Logger {
  const out = opts.destination ?? process.stderr;
  const stream =
    opts.format === "text" ? { write: (line: string) => void out.write(textLine(line)) } : { write: (line: string) => void out.write(line) };
  return pino(
    {
      level: opts.level ?? "info",
      base: { component: "agent" },
      redact: { paths: REDACT, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream,
  );
}

/** A logger that drops everything; for unit tests and one-shot commands that print JSON. */
export const silentLogger: Logger = pino({ level: "silent" });
