// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of delta computation: u64 deltas and resets, when a delta is skipped and why, rate
// truncation, and the default configurations.

import { expect, test } from "bun:test";
import { DEFAULT_DELTA_CONFIG, DeltaTracker, rate, SEED_DELTA_CONFIG, u64Delta } from "./delta.ts";

test("u64Delta (acceptance 30)", () => {
  expect(u64Delta(100n, 50n)).toEqual({ delta: 50n, reset: false });
  expect(u64Delta(150n, 50n)).toEqual({ delta: 100n, reset: false });
  expect(u64Delta(10n, 100n)).toEqual({ delta: 0n, reset: true });
  expect(u64Delta(5n, 18446744073709551615n - 10n)).toEqual({ delta: 0n, reset: true });
});

test("shouldCalculate reasons", () => {
  const t = new DeltaTracker<number>(DEFAULT_DELTA_CONFIG);
  expect(t.shouldCalculate(1000).reason).toBe("no previous state available");
  t.commit(1, 1000);
  expect(t.shouldCalculate(2000)).toEqual({ ok: true, reason: "", intervalMs: 1000 });
  expect(t.shouldCalculate(1000 + 10 * 60_000).reason).toStartWith("interval too large");
  expect(t.shouldCalculate(500).reason).toBe("time went backwards");
  expect(t.shouldCalculate(1050).reason).toStartWith("interval too small");
  const off = new DeltaTracker<number>(SEED_DELTA_CONFIG);
  expect(off.shouldCalculate(1).reason).toBe("delta calculation disabled");
});

test("defaults: SEED disabled/100ms/5min, ours enabled", () => {
  expect(SEED_DELTA_CONFIG).toEqual({ mode: "disabled", minIntervalMs: 100, maxIntervalMs: 300000 });
  expect(DEFAULT_DELTA_CONFIG.mode).toBe("enabled");
});

test("rates truncate", () => {
  expect(rate(10n, 3)).toBe(3);
  expect(rate(10n, 0)).toBe(0);
});
