// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// ListSlots: at most `limit` holders, FIFO hand-over, abort while waiting, double release.

import { expect, test } from "bun:test";
import { ListSlots } from "./list-slots.ts";

test("at most limit holders; a released slot goes to the longest waiter", async () => {
  const slots = new ListSlots(2);
  const a = await slots.acquire();
  const b = await slots.acquire();
  const order: string[] = [];
  const c = slots.acquire().then((r) => {
    order.push("c");
    return r;
  });
  const d = slots.acquire().then((r) => {
    order.push("d");
    return r;
  });
  await Bun.sleep(5);
  expect(order).toEqual([]);
  expect(slots.active).toBe(2);
  a();
  a(); // a second release of the same slot is a no-op
  const rc = await c;
  expect(order).toEqual(["c"]);
  b();
  const rd = await d;
  expect(order).toEqual(["c", "d"]);
  rc();
  rd();
  expect(slots.active).toBe(0);
});

test("a waiter whose signal aborts leaves the queue and rejects", async () => {
  const slots = new ListSlots(1);
  const held = await slots.acquire();
  const ac = new AbortController();
  const waiting = slots.acquire(ac.signal);
  ac.abort(new Error("stop"));
  await expect(waiting).rejects.toThrow("stop");
  held();
  expect(slots.active).toBe(0);
  const again = await slots.acquire();
  expect(slots.active).toBe(1);
  again();
  expect(() => new ListSlots(0)).toThrow("at least 1");
});
