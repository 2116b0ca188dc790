// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// startInBackground: the lifecycle goes on at once; stop waits for a start still running, then stops
// what started; a failed start is logged and never stopped. buildOnStart: built only when started.

import { expect, test } from "bun:test";
import { silentLogger } from "../log/logger.ts";
import { buildOnStart, startInBackground } from "./background.ts";
import type { Component } from "./component.ts";
import { Lifecycle } from "./lifecycle.ts";

function slowComponent(startMs: number, fail = false) {
  const calls: string[] = [];
  const c: Component = {
    name: "slow",
    required: false,
    async start() {
      calls.push("start");
      await Bun.sleep(startMs);
      if (fail) throw new Error("no eBPF here");
      calls.push("started");
    },
    async stop() {
      calls.push("stop");
    },
    isReady: () => calls.includes("started"),
  };
  return { c, calls };
}

test("the components after it start at once and readiness does not wait for it", async () => {
  const { c, calls } = slowComponent(300);
  const order: string[] = [];
  const after: Component = {
    name: "after",
    required: true,
    async start() {
      order.push(calls.includes("started") ? "after (slow done)" : "after (slow still starting)");
    },
    async stop() {},
    isReady: () => true,
  };
  const lc = new Lifecycle([startInBackground(c, silentLogger), after], silentLogger);
  const t0 = performance.now();
  await lc.start();
  expect(performance.now() - t0).toBeLessThan(250);
  expect(order).toEqual(["after (slow still starting)"]);
  expect(lc.readiness()).toEqual({ ready: true, reasons: [] });
  await Bun.sleep(400);
  expect(calls).toEqual(["start", "started"]);
  expect(await lc.stop(1000)).toBe(true);
  expect(calls).toEqual(["start", "started", "stop"]);
});

test("stop waits for a start still running, then stops it", async () => {
  const { c, calls } = slowComponent(200);
  const bg = startInBackground(c, silentLogger);
  await bg.start();
  expect(calls).toEqual(["start"]);
  await bg.stop(AbortSignal.timeout(2000));
  expect(calls).toEqual(["start", "started", "stop"]);
});

test("a failed start is not stopped; a start past the stop deadline is an error naming the component", async () => {
  const failing = slowComponent(10, true);
  const bg = startInBackground(failing.c, silentLogger);
  await bg.start();
  await bg.stop(AbortSignal.timeout(1000));
  expect(failing.calls).toEqual(["start"]);

  const stuck = slowComponent(5000);
  const bg2 = startInBackground(stuck.c, silentLogger);
  await bg2.start();
  await expect(bg2.stop(AbortSignal.timeout(50))).rejects.toThrow("slow was still starting when the stop deadline passed");
});

test("with `after`, the start waits until it holds (or the wait runs out); a stop before that cancels it", async () => {
  let open = false;
  const { c, calls } = slowComponent(10);
  const bg = startInBackground(c, silentLogger, { after: () => open });
  await bg.start();
  await Bun.sleep(100);
  expect(calls).toEqual([]);
  open = true;
  await Bun.sleep(100);
  expect(calls).toEqual(["start", "started"]);
  await bg.stop(AbortSignal.timeout(1000));
  expect(calls).toEqual(["start", "started", "stop"]);

  const never = slowComponent(10);
  const capped = startInBackground(never.c, silentLogger, { after: () => false, maxWaitMs: 100 });
  await capped.start();
  await Bun.sleep(250);
  expect(never.calls).toEqual(["start", "started"]);
  await capped.stop(AbortSignal.timeout(1000));

  const cancelled = slowComponent(10);
  const bg3 = startInBackground(cancelled.c, silentLogger, { after: () => false });
  await bg3.start();
  await bg3.stop(AbortSignal.timeout(1000));
  await Bun.sleep(50);
  expect(cancelled.calls).toEqual([]);
});

test("settled: false while waiting or starting, true once the start ran (either way) or was cancelled", async () => {
  let open = false;
  const ok = slowComponent(100);
  const bg = startInBackground(ok.c, silentLogger, { after: () => open });
  await bg.start();
  await Bun.sleep(50);
  expect(bg.settled()).toBe(false);
  open = true;
  await Bun.sleep(60);
  expect(ok.calls).toEqual(["start"]);
  expect(bg.settled()).toBe(false);
  await Bun.sleep(150);
  expect(bg.settled()).toBe(true);

  const failing = startInBackground(slowComponent(10, true).c, silentLogger);
  await failing.start();
  await Bun.sleep(100);
  expect(failing.settled()).toBe(true);

  const cancelled = startInBackground(slowComponent(10).c, silentLogger, { after: () => false });
  await cancelled.start();
  expect(cancelled.settled()).toBe(false);
  await cancelled.stop(AbortSignal.timeout(1000));
  expect(cancelled.settled()).toBe(true);
});

test("buildOnStart builds the component only when it starts, once, and stops only what it built", async () => {
  const { c, calls } = slowComponent(10);
  let builds = 0;
  const lazy = buildOnStart("slow", async () => {
    builds++;
    return c;
  });
  expect(lazy.name).toBe("slow");
  expect(lazy.isReady()).toBe(false);
  await lazy.stop(AbortSignal.timeout(1000));
  expect(builds).toBe(0);
  expect(lazy.built()).toBeUndefined();

  const bg = startInBackground(lazy, silentLogger, { after: () => true });
  await bg.start();
  await Bun.sleep(100);
  expect(builds).toBe(1);
  expect(lazy.built()).toBe(c);
  expect(lazy.isReady()).toBe(true);
  await bg.stop(AbortSignal.timeout(1000));
  expect(calls).toEqual(["start", "started", "stop"]);

  const failing = buildOnStart("broken", async () => {
    throw new Error("module failed to load");
  });
  await expect(failing.start()).rejects.toThrow("module failed to load");
  await failing.stop(AbortSignal.timeout(1000));
  expect(failing.built()).toBeUndefined();
});
