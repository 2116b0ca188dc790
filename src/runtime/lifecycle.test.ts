// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the lifecycle: start order and reverse stop, readiness while stopping and before sync,
// optional vs required failures, and the stop budget.

import { expect, test } from "bun:test";
import { silentLogger } from "../log/logger.ts";
import type { Component } from "./component.ts";
import { Lifecycle } from "./lifecycle.ts";

function fake(
  name: string,
  log: string[],
  opts: { required?: boolean; failStart?: boolean; ready?: boolean; stopMs?: number } = {},
): Component {
  return {
    name,
    required: opts.required ?? true,
    async start() {
      if (opts.failStart) throw new Error(`${name} cannot start`);
      log.push(`start ${name}`);
    },
    async stop() {
      if (opts.stopMs) await Bun.sleep(opts.stopMs);
      log.push(`stop ${name}`);
    },
    isReady: () => opts.ready ?? true,
  };
}

test("starts in order, stops in reverse", async () => {
  const log: string[] = [];
  const lc = new Lifecycle([fake("store", log), fake("intake", log), fake("http", log)], silentLogger);
  await lc.start();
  expect(lc.readiness()).toEqual({ ready: true, reasons: [] });
  expect(await lc.stop(1000)).toBe(true);
  expect(log).toEqual(["start store", "start intake", "start http", "stop http", "stop intake", "stop store"]);
});

test("readiness goes false at once when stopping", async () => {
  const log: string[] = [];
  const lc = new Lifecycle([fake("slow", log, { stopMs: 50 })], silentLogger);
  await lc.start();
  const stopping = lc.stop(1000);
  expect(lc.readiness()).toEqual({ ready: false, reasons: ["shutting down"] });
  await stopping;
});

test("an optional component that fails degrades instead of failing", async () => {
  const log: string[] = [];
  const lc = new Lifecycle([fake("store", log), fake("ebpf", log, { required: false, failStart: true }), fake("http", log)], silentLogger);
  await lc.start();
  expect(lc.readiness().ready).toBe(true);
  expect(log).toEqual(["start store", "start http"]);
});

test("a required component that fails stops what started and reports the reason", async () => {
  const log: string[] = [];
  const lc = new Lifecycle([fake("store", log), fake("kube", log, { failStart: true }), fake("http", log)], silentLogger);
  await expect(lc.start()).rejects.toThrow("kube failed to start: kube cannot start");
  expect(log).toEqual(["start store", "stop store"]);
});

test("not synced components keep the agent unready, with the reason", async () => {
  const lc = new Lifecycle([fake("kube", [], { ready: false })], silentLogger);
  await lc.start();
  expect(lc.readiness()).toEqual({ ready: false, reasons: ["kube: not synced"] });
});

test("stop respects the budget", async () => {
  const lc = new Lifecycle([fake("stuck", [], { stopMs: 5000 })], silentLogger);
  await lc.start();
  const t0 = performance.now();
  expect(await lc.stop(100)).toBe(false);
  expect(performance.now() - t0).toBeLessThan(1000);
});

test("after a stop over budget, unstopped() names the components that did not stop", async () => {
  const log: string[] = [];
  const lc = new Lifecycle([fake("store", log), fake("hung", log, { stopMs: 10_000 }), fake("http", log)], silentLogger);
  await lc.start();
  expect(lc.unstopped()).toEqual([]);
  const t0 = performance.now();
  expect(await lc.stop(100)).toBe(false);
  expect(performance.now() - t0).toBeLessThan(1000);
  expect(lc.unstopped()).toEqual(["hung"]);
  expect(log).toContain("stop store");
  expect(log).toContain("stop http");
});
