// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The value types of the option table (schema.ts): booleans, bounded durations, paths, listen and
// intake addresses, the API key. Each rejects bad input with a reason that names what is wanted.

import { z } from "zod";
import { apiKeyProblem } from "../util/api-key.ts";
import { errorMessage } from "../util/errors.ts";
import { formatDuration, parseDuration } from "./duration.ts";

/** true/false, 1/0, yes/no. An empty value is an error: `--intake-secure=` must not mean true. */
export const bool = z.preprocess(
  (v) => {
    if (typeof v !== "string") return v;
    const s = v.trim().toLowerCase();
    if (["true", "1", "yes"].includes(s)) return true;
    if (["false", "0", "no"].includes(s)) return false;
    return v;
  },
  z.boolean({ error: (i) => (i.input === "" ? "must be true or false, got an empty value" : "must be true or false") }),
);

export interface DurationRange {
  minMs: number;
  maxMs: number;
}

/** Every duration schema made by durationIn, with its range (for --help, docs and print-config). */
const DURATION_RANGES = new WeakMap<z.ZodType, DurationRange>();

/**
 * A Go-style duration ("10s", "1h30m") in milliseconds, within [min, max]. Every duration option has
 * an upper bound under a day: a timer beyond 2^31-1 ms (~24.8 days) fires at once, which turned a
 * huge interval into a busy loop.
 */
export function durationIn(min: string, max: string): z.ZodType<number> {
  const range = { minMs: parseDuration(min), maxMs: parseDuration(max) };
  const schema = z.union([z.number(), z.string()]).transform((v, ctx) => {
    let ms: number;
    try {
      ms = typeof v === "number" ? v : parseDuration(v);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: errorMessage(e) });
      return z.NEVER;
    }
    if (ms < range.minMs || ms > range.maxMs) {
      ctx.addIssue({ code: "custom", message: `must be between ${min} and ${max}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return ms;
  });
  DURATION_RANGES.set(schema, range);
  return schema;
}

export function durationRange(schema: z.ZodType): DurationRange | undefined {
  return DURATION_RANGES.get(schema);
}

/** "1s to 24h", as --help and the docs print a range. */
export function rangeText(range: DurationRange): string {
  return `${formatDuration(range.minMs)} to ${formatDuration(range.maxMs)}`;
}

const isAbsolute = (p: string) => p.startsWith("/");
export const absolutePath = z.string().refine(isAbsolute, { error: (i) => `must be an absolute path, got ${JSON.stringify(i.input)}` });
export const optionalPath = z
  .string()
  .refine((p) => p === "" || isAbsolute(p), { error: (i) => `must be an absolute path, got ${JSON.stringify(i.input)}` });

/** "" or "0" disables a listener; otherwise [host]:port with a port in 0..65535. */
export const bindAddress = z.string().refine(
  (a) => {
    if (a === "" || a === "0") return true;
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]*):(\d{1,5})$/.exec(a);
    return m !== null && Number(m[2]) <= 65535;
  },
  { error: (i) => `must be host:port, :port, or 0 to disable, got ${JSON.stringify(i.input)}` },
);

/** node:net's isIPv6, loading node:net (and the stream machinery it brings) only when an address has brackets. */
const isIPv6 = (s: string): boolean => process.getBuiltinModule("node:net").isIPv6(s);

const HOSTNAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/;

/** Why an intake address is unusable, or undefined when it is host:port (IPv6 in brackets, no scheme). */
export function intakeAddressProblem(address: string): string | undefined {
  if (address === "") return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(address) || /^(dns|unix|ipv4|ipv6):/i.test(address))
    return "must not have a scheme (write host:port)";
  const colon = address.lastIndexOf(":");
  if (colon === -1) return "must be host:port (the port is required)";
  const host = address.slice(0, colon);
  const port = address.slice(colon + 1);
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return "the port must be a number from 1 to 65535";
  if (host.startsWith("[")) {
    if (!host.endsWith("]") || !isIPv6(host.slice(1, -1))) return "an IPv6 address must be a valid address in brackets, e.g. [::1]:443";
    return undefined;
  }
  if (host.includes(":")) return "an IPv6 address must be in brackets, e.g. [::1]:443";
  if (!HOSTNAME.test(host)) return "the host must be a DNS name or an IP address";
  return undefined;
}

/** intake gRPC endpoint: "" turns upload off. */
export const intakeAddress = z.string().superRefine((a, ctx) => {
  const problem = intakeAddressProblem(a);
  if (problem) ctx.addIssue({ code: "custom", message: `${problem}, got ${JSON.stringify(a)}` });
});

export const apiKey = z.string().superRefine((k, ctx) => {
  const problem = apiKeyProblem(k);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** Comma-separated (or a YAML list). */
export const list = z
  .union([z.array(z.string()), z.string()])
  .transform((v) => (Array.isArray(v) ? v : v.split(",")).map((s) => s.trim()).filter((s) => s !== ""));

export const regex = z.string().superRefine((r, ctx) => {
  try {
    new RegExp(r);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: `not a valid regular expression: ${JSON.stringify(r)} (${errorMessage(e)})` });
  }
});

/** Go's strconv.ParseBool forms, as the original reads OTEL_EXPORTER_OTLP_INSECURE (1, t, T, TRUE, true, True, 0, f, ...). */
export const goBool = z.preprocess(
  (v) => {
    if (typeof v !== "string") return v;
    if (["1", "t", "T", "TRUE", "true", "True"].includes(v.trim())) return true;
    if (["0", "f", "F", "FALSE", "false", "False"].includes(v.trim())) return false;
    return v;
  },
  z.boolean({ error: () => "must be true or false (1, t, TRUE, 0, f, FALSE, ...)" }),
);

/**
 * An OTLP exporter timeout: a Go duration ("30s", as the original reads it) or the OpenTelemetry
 * specification's integer milliseconds ("10000"), 1ms to 1h.
 */
export const otlpTimeout = z.union([z.number(), z.string()]).transform((v, ctx) => {
  let ms: number;
  try {
    ms = typeof v === "number" ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: errorMessage(e) });
    return z.NEVER;
  }
  if (!(ms >= 1 && ms <= 3_600_000)) {
    ctx.addIssue({ code: "custom", message: `must be between 1ms and 1h, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return ms;
});
DURATION_RANGES.set(otlpTimeout, { minMs: 1, maxMs: 3_600_000 });
