// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The agent's logger (pino): JSON or text lines on stderr, one `component` per line, secrets redacted.

import pino, { type Bindings, type ChildLoggerOptions, type Logger } from "pino";

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
    // not a JSON record (pino always writes one; a foreign line): print it as it is
    return record;
  }
}

/** Where a logger keeps its component name; children inherit it (pino children are prototype-linked). */
const COMPONENT = Symbol("antimetal.component");
type WithComponent = Logger & { [COMPONENT]?: string };

/**
 * `child({ component })` replaces the component instead of adding a second `"component"` key: pino
 * appends child bindings to the parent's serialized ones, so `"component":"agent","component":"http"`
 * came out, which strict JSON parsers and log pipelines reject. The name is kept on the logger and
 * written once per line by the mixin; a `component` in a call's own fields wins over it.
 */
function childReplacingComponent(this: WithComponent, bindings: Bindings, options?: ChildLoggerOptions): Logger {
  const { component, ...rest } = bindings;
  const child = pinoChild.call(this, rest, options) as WithComponent;
  if (component !== undefined) child[COMPONENT] = String(component);
  return child;
}
/**
 * A logger that drops everything; for unit tests and one-shot commands that print JSON. Its
 * destination writes nowhere: without one, pino opens a SonicBoom on stdout (registered for flushing
 * at exit) for a logger that never writes, which every start of the agent paid for at import.
 */
export const silentLogger: Logger = pino({ level: "silent" }, { write: () => undefined });
const pinoChild = Object.getPrototypeOf(silentLogger).child as (this: Logger, b: Bindings, o?: ChildLoggerOptions) => Logger;

/**
 * The agent's root logger: structured JSON on stderr by default, one line per record, with the
 * component name in every line exactly once (children made with `logger.child({ component })`).
 */
export function createLogger(opts: { level?: LogLevel; format?: LogFormat; destination?: NodeJS.WritableStream } = {}): Logger {
  const out = opts.destination ?? process.stderr;
  const stream =
    opts.format === "text"
      ? { write: (line: string) => void out.write(textLine(line)) }
      : { write: (line: string) => void out.write(line) };
  const root = pino(
    {
      level: opts.level ?? "info",
      base: null,
      mixin: (_fields, _level, logger) => ({ component: (logger as WithComponent)[COMPONENT] ?? "agent" }),
      redact: { paths: REDACT, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream,
  ) as WithComponent;
  root.child = childReplacingComponent as unknown as Logger["child"];
  return root;
}
