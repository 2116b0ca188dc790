// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** `collect --collectors execsnoop --duration D` output (runExecsnoopCommand) on the real kernel. */

import { describe, expect, test } from "bun:test";
import { runExecsnoopCommand } from "../../src/ebpf/index.ts";

describe("runExecsnoopCommand", () => {
  test("JSON lines, one per exec, with exact kernel timestamps; stops early on abort", async () => {
    const marker = `cmd-test-${process.pid}`;
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => {
      Bun.spawnSync(["/bin/echo", marker, "second arg"]);
      setTimeout(() => ac.abort(), 300);
    }, 300);
    const r = await runExecsnoopCommand({ durationMs: 20_000, signal: ac.signal });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.exitCode).toBe(0);
    const lines = r.output.trim().split("\n");
    const events = lines.map((l) => JSON.parse(l));
    const mine = events.filter((e) => e.args?.[1] === marker);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      comm: "echo",
      command: "echo",
      args: ["/bin/echo", marker, "second arg"],
      retval: 0,
      uid: 0,
      ppid: process.pid,
    });
    // the timestamp is an exact integer in the text (u64 kernel nanoseconds, not a rounded double)
    const line = lines.find((l) => l.includes(marker))!;
    expect(line).toMatch(/"timestamp":\d{10,}/);
    expect(Number.isNaN(Date.parse(mine[0].time))).toBe(false);
  });

  test('format "json": one object keyed "execsnoop" with a summary', async () => {
    const marker = `cmd-json-${process.pid}`;
    setTimeout(() => Bun.spawnSync(["/bin/echo", marker]), 200);
    const r = await runExecsnoopCommand({ durationMs: 800, format: "json" });
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.output);
    expect(Array.isArray(out.execsnoop)).toBe(true);
    expect(out.execsnoop.some((e: { args: string[] }) => e.args[1] === marker)).toBe(true);
    expect(out.execsnoop_summary).toMatchObject({ lost: 0, rejected: 0, not_printed: 0 });
    expect(out.execsnoop_summary.events).toBeGreaterThanOrEqual(1);
  });
});
