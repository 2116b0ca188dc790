// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import { expect, test } from "bun:test";
import { Backoff, DEFAULT_BACKOFF } from "./backoff.ts";

test("backoff grows by 1.5 from 500 ms, caps at 60 s, jitter stays within ±50%", () => {
  const lo = new Backoff(DEFAULT_BACKOFF, () => 0);
  const hi = new Backoff(DEFAULT_BACKOFF, () => 0.999999);
  const mid = new Backoff(DEFAULT_BACKOFF, () => 0.5);
  expect(mid.next()).toBe(500);
  expect(mid.next()).toBe(750);
  expect(mid.next()).toBe(1125);
  expect(lo.next()).toBe(250);
  expect(hi.next()).toBe(750);
  for (let i = 0; i < 40; i++) mid.next();
  expect(mid.next()).toBe(60_000);
  for (let i = 0; i < 40; i++) hi.next();
  expect(hi.next()).toBeLessThanOrEqual(90_000);
  mid.reset();
  expect(mid.next()).toBe(500);
});
