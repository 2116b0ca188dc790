// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The poison-entry isolation state machine, step by step (no streams, no outbox).

import { expect, test } from "bun:test";
import { PoisonIsolation, type SentRef } from "./isolation.ts";

const entries = (from: number, to: number): SentRef[] => {
  const out: SentRef[] = [];
  for (let seq = from; seq <= to; seq++) out.push({ key: `k${seq}`, seq, op: "UPDATE", bytes: 10 });
  return out;
};

test("not isolating until a rejection; a rejected stream halves the next one's entries", () => {
  const iso = new PoisonIsolation(2, 1_000);
  expect(iso.limit).toBeUndefined();
  iso.acknowledged(entries(1, 5));
  expect(iso.limit).toBeUndefined();
  expect(iso.rejected(entries(1, 64))).toBeUndefined();
  expect(iso.limit).toBe(32);
  expect(iso.rejected(entries(1, 32))).toBeUndefined();
  expect(iso.limit).toBe(16);
  expect(iso.rejected(entries(1, 3))).toBeUndefined();
  expect(iso.limit).toBe(2);
});

test("an acknowledged stream doubles the limit up to the maximum, and isolation ends at the rejected range's end", () => {
  const iso = new PoisonIsolation(2, 20);
  iso.rejected(entries(1, 40)); // limit 20, until seq 40
  iso.rejected(entries(1, 20)); // limit 10, until seq 40 (the wider range is kept)
  expect(iso.limit).toBe(10);
  iso.acknowledged(entries(1, 10));
  expect(iso.limit).toBe(20);
  iso.acknowledged(entries(11, 30));
  expect(iso.limit).toBe(20); // capped
  iso.acknowledged(entries(31, 40));
  expect(iso.limit).toBeUndefined();
});

test("the same entry rejected alone dropAfterRejections times in a row is the one to drop; a different one restarts the count", () => {
  const iso = new PoisonIsolation(2, 1_000);
  const [a] = entries(7, 7);
  const [b] = entries(8, 8);
  expect(iso.rejected([a!])).toBeUndefined();
  expect(iso.limit).toBe(1);
  expect(iso.rejected([b!])).toBeUndefined(); // another entry: strike 1 again
  expect(iso.rejected([b!])).toEqual(b);
  expect(iso.limit).toBe(2); // after a drop the search widens again
  expect(iso.rejected([a!])).toBeUndefined();
  // an empty rejected stream (heartbeat only) changes nothing
  expect(iso.rejected([])).toBeUndefined();
  expect(iso.limit).toBe(1);
});

test("a coalesced entry (same key, new seq) is a different entry: it does not inherit strikes", () => {
  const iso = new PoisonIsolation(2, 1_000);
  expect(iso.rejected([{ key: "k", seq: 1, op: "UPDATE", bytes: 1 }])).toBeUndefined();
  expect(iso.rejected([{ key: "k", seq: 2, op: "UPDATE", bytes: 1 }])).toBeUndefined();
  expect(iso.rejected([{ key: "k", seq: 2, op: "UPDATE", bytes: 1 }])).toMatchObject({ key: "k", seq: 2 });
});
