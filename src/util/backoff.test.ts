// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the backoff: growth from 500 ms by 1.5, the 60 s cap, jitter bounds and reset.

import { expect, test } from "bun:test";
import { Backoff, type BackoffOptions, DEFAULT_BACKOFF } from "./backoff.ts";

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

test("doubling backoff with ±50% jitter (the reflector's): base * 2^n capped, times [0.5, 1.5); saturate jumps to the cap", () => {
  const opts: BackoffOptions = { initialMs: 800, multiplier: 2, maxMs: 30_000, jitter: 0.5 };
  const mid = new Backoff(opts, () => 0.5);
  expect([mid.next(), mid.next(), mid.next(), mid.next(), mid.next(), mid.next(), mid.next()]).toEqual([
    800, 1600, 3200, 6400, 12_800, 25_600, 30_000,
  ]);
  expect(new Backoff(opts, () => 0).next()).toBe(400);
  expect(new Backoff(opts, () => 0.999999).next()).toBe(1200);
  mid.reset();
  mid.saturate();
  expect(mid.next()).toBe(30_000);
  mid.reset();
  expect(mid.next()).toBe(800);
});

test("jitterUpOnly only lengthens the wait (client-go wait.Jitter): a 2 s period waits [2 s, 2.4 s)", () => {
  const opts: BackoffOptions = { initialMs: 2000, multiplier: 1, maxMs: 2000, jitter: 0.2, jitterUpOnly: true };
  expect(new Backoff(opts, () => 0).next()).toBe(2000);
  expect(new Backoff(opts, () => 0.5).next()).toBe(2200);
  const hi = new Backoff(opts, () => 0.999999);
  for (let i = 0; i < 5; i++) expect(hi.next()).toBe(2400);
});
