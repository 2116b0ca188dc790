// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The debug consumer of the compiled agent at each level (basic, details, verbose) and format (json,
// text): what each line holds, checked against `collect` on the same host tree.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { requireBinary, startAgent } from "../helpers/agent-process.ts";
import { makeHostTree } from "./host-tree.ts";

let root: string;
let load: Record<string, unknown>;

beforeAll(() => {
  root = makeHostTree();
  const out = Bun.spawnSync([
    requireBinary(),
    "collect",
    "--collectors",
    "load",
    "--host-proc",
    `${root}/proc`,
    "--host-sys",
    `${root}/sys`,
    "--format",
    "json",
  ]);
  load = JSON.parse(out.stdout.toString()).load;
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

async function debugLines(level: string, format: string): Promise<string[]> {
  const agent = await startAgent([
    "--enable-performance-collectors",
    "--collectors",
    "load,cpu",
    "--performance-collector-interval",
    "200ms",
    "--host-proc",
    `${root}/proc`,
    "--host-sys",
    `${root}/sys`,
    "--enable-kubernetes-controller=false",
    "--enable-hardware-discovery=false",
    "--config-loader",
    "off",
    "--data-directory",
    "",
    "--node-name",
    "dbg-node",
    "--enable-debug-consumer",
    "--debug-log-level",
    level,
    "--debug-log-format",
    format,
  ]);
  const lines = () =>
    agent.logs.filter(
      (l) => l.component === "debug-consumer" && typeof l.msg === "string" && l.msg !== "debug consumer logging metric events",
    );
  try {
    await agent.waitForLog(() => lines().filter((l) => String(l.msg).includes("cpu")).length >= 3, 15_000);
  } finally {
    expect(await agent.stop()).toBe(0);
  }
  return lines().map((l) => String(l.msg));
}

const TS = String.raw`\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\]`;

describe("debug consumer, json", () => {
  for (const level of ["basic", "details", "verbose"]) {
    test(level, async () => {
      const entries = (await debugLines(level, "json")).map((m) => JSON.parse(m) as Record<string, any>);
      const loads = entries.filter((e) => e.event.metric_type === "load");
      expect(loads.length).toBeGreaterThan(0);
      const e = loads[0]!;
      expect(Object.keys(e).slice(0, 5)).toEqual(["timestamp", "level", "consumer", "message", "event"]);
      expect({ level: e.level, consumer: e.consumer, message: e.message }).toEqual({
        level: "INFO",
        consumer: "debug",
        message: "Metrics event received",
      });
      expect(new Date(e.timestamp).getTime()).toBeGreaterThan(0);
      expect(e.event).toEqual({
        metric_type: "load",
        source: "performance-collector",
        node_name: "dbg-node",
        cluster_name: "",
        data_type: "*performance.LoadStats",
        data_size: Buffer.byteLength(JSON.stringify(load)),
      });
      // the first event carries the stats
      expect(entries[0]!.stats.events_processed).toBe(1);
      expect(entries.slice(1).every((x) => x.stats === undefined)).toBe(true);
      const cpus = entries.filter((x) => x.event.metric_type === "cpu");
      expect(cpus[0]!.event.data_type).toBe("[]*performance.CPUStats");
      if (level !== "verbose") {
        expect(entries.every((x) => x.data === undefined)).toBe(true);
        return;
      }
      expect(e.data).toEqual(load);
      // cpu payloads pass 1024 bytes once they carry deltas: cut at a field boundary, with the whole size
      const cut = cpus.find((x) => x.event.data_size > 1024)!;
      expect(typeof cut.data).toBe("string");
      expect(cut.data).toEndWith(`... (truncated from ${cut.event.data_size} bytes)`);
      expect(Buffer.byteLength(cut.data.split("... (truncated")[0])).toBeLessThanOrEqual(1024);
    }, 60_000);
  }
});

describe("debug consumer, text", () => {
  test("basic: the event type", async () => {
    const lines = await debugLines("basic", "text");
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${TS} Event: load$`)));
    expect(lines[1]).toStartWith("Debug consumer stats | ");
    expect(JSON.parse(lines[1]!.slice("Debug consumer stats | ".length)).events_processed).toBe(1);
  }, 60_000);

  test("details: source and node", async () => {
    const lines = await debugLines("details", "text");
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^${TS} Event: load \\| Source: performance-collector \\| Node: dbg-node$`)),
    );
  }, 60_000);

  test("verbose: the Go type and the payload, cut at 1024 characters", async () => {
    const lines = await debugLines("verbose", "text");
    const prefix = " Event: load | Source: performance-collector | Node: dbg-node | DataType: *performance.LoadStats | Data: ";
    const line = lines.find((l) => l.includes(prefix))!;
    expect(line).toMatch(new RegExp(`^${TS} `));
    expect(JSON.parse(line.slice(line.indexOf(prefix) + prefix.length))).toEqual(load);
    const cut = lines.find((l) => l.includes("Event: cpu") && l.includes("... (truncated from "));
    expect(cut).toMatch(/DataType: \[\]\*performance\.CPUStats \| Data: \[.*\.\.\. \(truncated from \d+ chars\)$/);
  }, 60_000);
});
