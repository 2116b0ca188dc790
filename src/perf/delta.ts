// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** Delta computation with the original agent's semantics (pkg/performance/delta.go). */

export interface DeltaConfig {
  mode: "disabled" | "enabled";
  minIntervalMs: number;
  maxIntervalMs: number;
}

/** The original's struct defaults (SEED): disabled, 100 ms, 5 min. */
export const SEED_DELTA_CONFIG: DeltaConfig = { mode: "disabled", minIntervalMs: 100, maxIntervalMs: 5 * 60_000 };
/** What this agent uses: HEAD's default, deltas enabled. */
export const DEFAULT_DELTA_CONFIG: DeltaConfig = { mode: "enabled", minIntervalMs: 100, maxIntervalMs: 5 * 60_000 };

/** Metric types that carry deltas (IsEnabled in the original). */
export const DELTA_TYPES = new Set(["tcp", "network", "cpu", "system", "disk", "memory", "numa_stats"]);

export interface DeltaMetadata {
  /** Nanoseconds, as Go marshals a time.Duration. */
  collection_interval: number;
  last_collection_time: string;
  is_first_collection: boolean;
  counter_reset_detected: boolean;
}

function fmtMs(ms: number): string {
  return ms >= 60_000 ? `${(ms / 60_000).toFixed(1)}m` : ms >= 1000 ? `${(ms / 1000).toFixed(3)}s` : `${ms}ms`;
}

/**
 * Baseline holder. `shouldCalculate(now)` gives the original's reasons; `commit` stores the new
 * snapshot. Collectors choose when to commit (pattern a: only on first or successful delta; pattern b:
 * every collection).
 */
export class DeltaTracker<S> {
  last: S | undefined;
  lastTime = 0;
  isFirst = true;

  constructor(readonly config: DeltaConfig = DEFAULT_DELTA_CONFIG) {}

  shouldCalculate(nowMs: number): { ok: boolean; reason: string; intervalMs: number } {
    if (this.config.mode === "disabled") return { ok: false, reason: "delta calculation disabled", intervalMs: 0 };
    if (this.isFirst || this.last === undefined) return { ok: false, reason: "no previous state available", intervalMs: 0 };
    const interval = nowMs - this.lastTime;
    if (interval < 0) return { ok: false, reason: "time went backwards", intervalMs: interval };
    if (interval > this.config.maxIntervalMs)
      return { ok: false, reason: `interval too large (${fmtMs(interval)} > ${fmtMs(this.config.maxIntervalMs)})`, intervalMs: interval };
    if (interval < this.config.minIntervalMs)
      return { ok: false, reason: `interval too small (${fmtMs(interval)} < ${fmtMs(this.config.minIntervalMs)})`, intervalMs: interval };
    return { ok: true, reason: "", intervalMs: interval };
  }

  commit(snapshot: S, nowMs: number): void {
    this.last = snapshot;
    this.lastTime = nowMs;
    this.isFirst = false;
  }

  metadata(nowMs: number, intervalMs: number, reset: boolean): DeltaMetadata {
    return {
      collection_interval: Math.round(intervalMs * 1e6),
      last_collection_time: new Date(this.lastTime || nowMs).toISOString(),
      is_first_collection: this.isFirst,
      counter_reset_detected: reset,
    };
  }
}

/** cur - prev, or 0 with reset=true when the counter went down (no wrap-around handling). */
export function u64Delta(cur: bigint, prev: bigint): { delta: bigint; reset: boolean } {
  return cur < prev ? { delta: 0n, reset: true } : { delta: cur - prev, reset: false };
}

/** uint64(delta / seconds), truncated, as the original computes rates. */
export function rate(delta: bigint, seconds: number): number {
  if (seconds <= 0) return 0;
  return Math.trunc(Number(delta) / seconds);
}

/**
 * Per-field deltas of two records over `keys`. `reset` is true if any field went down, in which case the
 * caller skips the rates for the whole record, as the original does.
 */
export function recordDeltas<K extends string>(
  cur: Record<K, bigint>,
  prev: Record<K, bigint>,
  keys: readonly K[],
): { deltas: Record<K, bigint>; reset: boolean } {
  const deltas = {} as Record<K, bigint>;
  let reset = false;
  for (const k of keys) {
    const d = u64Delta(cur[k], prev[k]);
    deltas[k] = d.delta;
    if (d.reset) reset = true;
  }
  return { deltas, reset };
}
