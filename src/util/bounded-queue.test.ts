// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the bounded queue: drops counted on /metrics when full, FIFO order, capacity validation.

import { expect, test } from "bun:test";
import { registry } from "../metrics/registry.ts";
import { BoundedQueue } from "./bounded-queue.ts";

test("a full queue refuses and counts the drop", async () => {
  const q = new BoundedQueue<number>("test_q", 2);
  expect(q.push(1)).toBe(true);
  expect(q.push(2)).toBe(true);
  expect(q.push(3)).toBe(false);
  expect(q.drain()).toEqual([1, 2]);
  const text = await registry.metrics();
  expect(text).toContain('antimetal_queue_dropped_total{queue="test_q",reason="full"} 1');
  expect(text).toContain('antimetal_queue_capacity{queue="test_q"} 2');
});

test("order survives many push/shift cycles", () => {
  const q = new BoundedQueue<number>("test_q2", 5000);
  const seen: number[] = [];
  for (let i = 0; i < 5000; i++) {
    q.push(i);
    if (i % 3 !== 0) seen.push(q.shift()!);
  }
  seen.push(...q.drain());
  expect(seen).toEqual(Array.from({ length: 5000 }, (_, i) => i));
});

test("capacity must be positive", () => {
  expect(() => new BoundedQueue("bad", 0)).toThrow("capacity must be a positive integer");
});
