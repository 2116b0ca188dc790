// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Tests of the process_* self metrics: the names, types and values client libraries serve (read from this
// process's /proc/self), and a failed read leaving only that family empty.

import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { Registry } from "prom-client";
import { procSelf, registerProcessMetrics } from "./process-self.ts";

function value(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

describe("process_* self metrics", () => {
  test("served from /proc/self with client_golang's names and types", async () => {
    const registry = new Registry();
    registerProcessMetrics(registry);
    const text = await registry.metrics();
    expect(text).toContain("# TYPE process_cpu_seconds_total counter");
    expect(text).toContain("# TYPE process_open_fds gauge");
    expect(value(text, "process_cpu_seconds_total")).toBeGreaterThan(0);
    const maxFds = Number(/Max open files\s+(\d+)/.exec(fs.readFileSync("/proc/self/limits", "utf8"))![1]);
    expect(value(text, "process_max_fds")).toBe(maxFds);
    expect(value(text, "process_open_fds")).toBeGreaterThan(2);
    expect(value(text, "process_open_fds")).toBeLessThanOrEqual(maxFds);
    expect(value(text, "process_virtual_memory_bytes")).toBeGreaterThan(value(text, "process_resident_memory_bytes")!);
    expect(value(text, "process_virtual_memory_max_bytes")).toBeGreaterThan(0);
  });

  test("CPU time grows between scrapes", async () => {
    const registry = new Registry();
    registerProcessMetrics(registry);
    const first = value(await registry.metrics(), "process_cpu_seconds_total")!;
    const until = performance.now() + 30;
    while (performance.now() < until) Math.sqrt(Math.random());
    expect(value(await registry.metrics(), "process_cpu_seconds_total")!).toBeGreaterThan(first);
  });

  test("a failed read empties only its family and is reported once", async () => {
    const registry = new Registry();
    const errors: string[] = [];
    const source = {
      ...procSelf,
      limits: () => {
        throw new Error("EACCES: permission denied");
      },
    };
    registerProcessMetrics(registry, source, (m) => errors.push(m));
    const text = await registry.metrics();
    await registry.metrics();
    expect(value(text, "process_max_fds")).toBeUndefined();
    expect(value(text, "process_open_fds")).toBeGreaterThan(0);
    expect(errors).toEqual(["process metrics: reading /proc/self/limits failed: EACCES: permission denied"]);
  });
});
