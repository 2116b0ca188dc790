// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// One-shot collection behind `collect`: runs point collectors (rate-based ones sampled twice) and prints
// one JSON object keyed by metric type with an "errors" map; also the default collector registry.

import * as fs from "node:fs";
import { effectiveCapabilities } from "../system/capabilities.ts";
import { type KernelVersion, kernelVersionFromProcVersion } from "../system/kernel-version.ts";
import { errorMessage } from "../util/errors.ts";
import { stringifyExact } from "../util/json.ts";
import { DEFAULT_HOST_PATHS, type HostPaths, METRIC_TYPES, type MetricType, type PointCollector } from "./collector.ts";
import type { CollectorOptions } from "./collectors/common.ts";
import { DELTA_TYPES } from "./delta.ts";
import { inflightReadsOf, raceAbort } from "./io.ts";
import { type CollectorRegistry, createCollectorRegistry, isPoint } from "./registry.ts";

/** Gap between the two samples of rate-based collectors in a one-shot collect (above the 100 ms minimum). */
export const SAMPLE_GAP_MS = 200;
/** Collectors sampled twice so the one-shot output already has deltas and rates. */
const TWO_SAMPLE = new Set<MetricType>([...(DELTA_TYPES as Set<MetricType>), "process"]);

export interface RunCollectOptions {
  paths: HostPaths;
  /** Default: every available point collector except execsnoop. */
  collectors?: MetricType[];
  format: "json";
  signal?: AbortSignal;
  /** Per-collector budget for each sample (default 5000 ms). */
  timeoutMs?: number;
  /** Pre-built registry (tests, or the agent's own); default: built from this process's caps and kernel. */
  registry?: CollectorRegistry;
  collectorOptions?: CollectorOptions;
  /** Gap between the two samples of rate-based collectors (default 200 ms; 0 for a single sample). */
  sampleGapMs?: number;
}

async function hostKernel(paths: HostPaths): Promise<KernelVersion> {
  for (const p of [`${paths.proc}/version`, "/proc/version"]) {
    try {
      return kernelVersionFromProcVersion(fs.readFileSync(p, "utf8"));
    } catch {
      // next
    }
  }
  return { raw: "0.0.0", major: 0, minor: 0, patch: 0 };
}

async function capabilities(): Promise<bigint> {
  try {
    return await effectiveCapabilities();
  } catch {
    return 0n;
  }
}

/** Registry for this process: its effective capabilities and the host kernel. */
export async function defaultRegistry(paths: HostPaths, opts: CollectorOptions = {}): Promise<CollectorRegistry> {
  return createCollectorRegistry(paths, { capabilities: await capabilities(), kernel: await hostKernel(paths) }, opts);
}

async function sample(c: PointCollector, timeoutMs: number, outer?: AbortSignal): Promise<unknown> {
  const t = AbortSignal.timeout(timeoutMs);
  const signal = outer ? AbortSignal.any([outer, t]) : t;
  try {
    return await raceAbort(c.collect(signal), signal);
  } catch (e) {
    if (t.aborted) throw new Error(timeoutMessage(c.spec.type, timeoutMs));
    throw e;
  }
}

/** "timed out after N ms", naming the host files the collector was still waiting on, if any. */
export function timeoutMessage(type: MetricType, timeoutMs: number): string {
  const waiting = inflightReadsOf(type);
  return `timed out after ${timeoutMs} ms${waiting.length ? ` (waiting on ${waiting.join(", ")})` : ""}`;
}

/**
 * One-shot collection: one JSON object keyed by metric type, the original's field names, exact u64
 * integers, and "errors": {type: message} for collectors that failed or cannot run here. Rate-based
 * collectors are sampled twice SAMPLE_GAP_MS apart, so their first output already carries deltas.
 * Exit code 0 when every attempted collector succeeded and every explicitly requested one could run.
 */
export async function runCollect(opts: RunCollectOptions): Promise<{ output: string; exitCode: number }> {
  if (opts.format !== "json") return { output: `unsupported format ${JSON.stringify(opts.format)}`, exitCode: 2 };
  const timeoutMs = opts.timeoutMs ?? 5000;
  const gap = opts.sampleGapMs ?? SAMPLE_GAP_MS;
  const registry = opts.registry ?? (await defaultRegistry(opts.paths, opts.collectorOptions));
  const explicit = opts.collectors !== undefined && opts.collectors.length > 0;
  const wanted: MetricType[] = explicit
    ? [...new Set(opts.collectors)]
    : registry
        .entries()
        .map((e) => e.spec.type)
        .filter((t) => t !== "execsnoop");
  const result: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  let failed = false;
  const running: [MetricType, PointCollector][] = [];
  for (const type of wanted) {
    const e = registry.get(type);
    if (!e) {
      errors[type] = "collector not found";
      failed = true;
      continue;
    }
    if (!e.available) {
      errors[type] = `unavailable: ${e.reason ?? "unknown reason"}`;
      if (explicit) failed = true;
      continue;
    }
    let c: ReturnType<typeof e.create>;
    try {
      c = e.create();
    } catch (err) {
      errors[type] = errorMessage(err);
      failed = true;
      continue;
    }
    if (!isPoint(c) || !c.spec.point) {
      errors[type] = "collector does not support one-shot collection";
      if (explicit) failed = true;
      continue;
    }
    running.push([type, c]);
  }
  const settle = async (list: [MetricType, PointCollector][]) =>
    Promise.all(
      list.map(
        async ([t, c]) =>
          [
            t,
            await sample(c, timeoutMs, opts.signal).then(
              (v) => ({ ok: true as const, v }),
              (err: Error) => ({ ok: false as const, err }),
            ),
          ] as const,
      ),
    );
  const first = await settle(running);
  const second = new Map<MetricType, { ok: boolean; v?: unknown; err?: Error }>();
  const again = running.filter(([t]) => TWO_SAMPLE.has(t) && first.find(([x]) => x === t)?.[1].ok);
  if (gap > 0 && again.length > 0) {
    await new Promise((r) => setTimeout(r, gap));
    for (const [t, r] of await settle(again)) second.set(t, r);
  }
  for (const [t, r1] of first) {
    const r = second.get(t) ?? r1;
    if (r.ok) result[t] = (r as { v: unknown }).v;
    else {
      errors[t] = (r as { err: Error }).err.message;
      failed = true;
    }
  }
  const ordered: Record<string, unknown> = {};
  for (const t of METRIC_TYPES) if (t in result) ordered[t] = result[t];
  for (const t of Object.keys(result)) if (!(t in ordered)) ordered[t] = result[t];
  if (Object.keys(errors).length > 0) ordered.errors = errors;
  return { output: stringifyExact(ordered, 2), exitCode: failed ? 1 : 0 };
}

/** Host roots from HOST_PROC / HOST_SYS / HOST_DEV / HOST_ETC / HOST_VAR over the defaults. */
export function hostPathsFromEnv(env: Record<string, string | undefined> = process.env): HostPaths {
  return {
    proc: env.HOST_PROC || DEFAULT_HOST_PATHS.proc,
    sys: env.HOST_SYS || DEFAULT_HOST_PATHS.sys,
    dev: env.HOST_DEV || DEFAULT_HOST_PATHS.dev,
    etc: env.HOST_ETC || DEFAULT_HOST_PATHS.etc,
    var: env.HOST_VAR || DEFAULT_HOST_PATHS.var,
  };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const paths = hostPathsFromEnv();
  let collectors: MetricType[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [k, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const val = () => inline ?? args[++i] ?? "";
    if (k === "--collectors") collectors = val().split(",").filter(Boolean) as MetricType[];
    else if (k === "--host-proc") paths.proc = val();
    else if (k === "--host-sys") paths.sys = val();
    else if (k === "--host-dev") paths.dev = val();
    else if (k === "--format") val();
    else {
      console.error(`unknown flag ${a}`);
      process.exit(2);
    }
  }
  const { output, exitCode } = await runCollect({ paths, collectors, format: "json" });
  process.stdout.write(output + "\n");
  process.exit(exitCode);
}
