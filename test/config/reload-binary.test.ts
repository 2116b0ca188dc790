// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The compiled binary reconfigured while it runs: SIGHUP and --config file changes (live options
// applied with one log line, the others reported as needing a restart, a bad file refused and the
// agent kept running), GET /config, a collector interval changed live as seen in the /metrics
// timestamps, config object files starting and stopping a collector, and SIGHUP under load.

import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toJson } from "@bufbuild/protobuf";
import { hostStatsObject } from "../../src/config/objects/parse.ts";
import { ObjectSchema } from "../../src/proto/gen/antimetal/types/v1/object_pb.ts";
import { type AgentProcess, requireBinary, startAgent } from "../helpers/agent-process.ts";
import { waitUntil } from "./helpers.ts";

let agent: AgentProcess | undefined;
let dir: string | undefined;
afterEach(async () => {
  await agent?.stop("SIGKILL");
  agent = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const STANDALONE = ["--intake-address", "", "--enable-kubernetes-controller=false", "--enable-performance-collectors"];

function setup(yaml: string): { dir: string; file: string; objects: string } {
  dir = mkdtempSync(join(tmpdir(), "cfg-reload-"));
  const file = join(dir, "agent.yaml");
  const objects = join(dir, "objects");
  mkdirSync(objects);
  writeFileSync(file, yaml);
  return { dir, file, objects };
}

async function metrics(a: AgentProcess): Promise<string> {
  return (await fetch(`http://127.0.0.1:${a.ports.metrics}/metrics`)).text();
}

/** /metrics once it matches: self metrics in the shared scrape body may be up to 1 s old (docs/metrics.md). */
async function metricsMatching(a: AgentProcess, re: RegExp, timeoutMs = 3000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = await metrics(a);
  while (!re.test(text) && Date.now() < deadline) {
    await Bun.sleep(100);
    text = await metrics(a);
  }
  return text;
}

async function configView(a: AgentProcess): Promise<Record<string, any>> {
  return (await (await fetch(`http://127.0.0.1:${a.ports.probes}/config`)).json()) as Record<string, any>;
}

function lastSuccess(text: string, collector: string): number | undefined {
  const m = new RegExp(`antimetal_collector_last_success_timestamp_seconds\\{collector="${collector}"\\} ([0-9.e+]+)`).exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Scrapes /metrics every 25 ms and records each new collection time of `collector` (ms). */
function sampler(a: AgentProcess, collector: string) {
  const times: number[] = [];
  let on = true;
  const done = (async () => {
    while (on) {
      const t = lastSuccess(await metrics(a).catch(() => ""), collector);
      if (t !== undefined && t * 1000 !== times.at(-1)) times.push(t * 1000);
      await Bun.sleep(25);
    }
  })();
  return {
    times,
    /** Gaps between consecutive collections from index `from`. */
    gaps: (from = 1) => times.slice(Math.max(1, from)).map((t, i) => t - times[Math.max(1, from) - 1 + i]!),
    stop: async () => {
      on = false;
      await done;
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const reloads = (a: AgentProcess) => a.logs.filter((l) => typeof l.msg === "string" && (l.msg as string).startsWith("config reload"));

test("SIGHUP applies live options with one log line, reports restart-only ones, keeps the agent on a bad file; SIGTERM still stops cleanly", async () => {
  const { dir, file } = setup("log-level: info\ncollectors: load\nperformance-collector-interval: 1s\n");
  // A debug line every second once debug is in force: the config loader's rescan of a directory that is not there
  // (otherwise the only one is the host graph's first refresh, which a SIGHUP soon after start may come after).
  const debugSource = ["--config-loader", "fs", "--config-fs-path", join(dir, "absent"), "--config-fs-rescan-interval", "1s"];
  agent = await startAgent([...STANDALONE, ...debugSource, "--config", file, "--data-directory", ""], {
    ANTIMETAL_INTAKE_API_KEY: "s3cr3t-key",
  });
  await waitUntil("load collected", async () => lastSuccess(await metrics(agent!), "load") !== undefined);

  writeFileSync(
    file,
    "log-level: debug\ncollectors: load,memory\nperformance-collector-interval: 1s\ntop-process-count: 7\nhardware-update-interval: 1m\n",
  );
  agent.proc.kill("SIGHUP");
  const line = await agent.waitForLog((l) => typeof l.msg === "string" && (l.msg as string).startsWith("config reloaded"));
  expect(line.applied).toEqual(["log-level", "collectors", "top-process-count"]);
  expect(line.needsRestart).toEqual(["hardware-update-interval"]);
  expect(line.msg).toBe("config reloaded: applied log-level, collectors, top-process-count; needs a restart: hardware-update-interval");
  expect(line.level).toBe("warn");
  await waitUntil("memory collected", async () => lastSuccess(await metrics(agent!), "memory") !== undefined);
  await agent.waitForLog((l) => l.level === "debug" && l.msg === "config directory not watched yet"); // the new log level is in force

  const view = await configView(agent);
  expect(view.options["log-level"]).toEqual({ value: "debug", source: `file ${file}` });
  expect(view.options["top-process-count"]).toEqual({ value: 7, source: `file ${file}` });
  expect(view.options["hardware-update-interval"]).toEqual({ value: "5m", source: "default" }); // in force until a restart
  expect(view.needsRestart).toEqual(["hardware-update-interval"]);
  expect(view.options["intake-api-key"]).toEqual({ value: "[redacted]", source: "env ANTIMETAL_INTAKE_API_KEY" });
  expect(view.options["metrics-bind-address"].source).toBe("flag --metrics-bind-address");
  expect(view.collectors.memory).toEqual({ interval: "1s", source: "--collectors / --performance-collector-interval" });
  expect(JSON.stringify(view)).not.toContain("s3cr3t-key");

  // A bad file: one error line, the configuration in force stays, the agent keeps running.
  writeFileSync(file, "log-level: loud\n");
  agent.proc.kill("SIGHUP");
  const failed = await agent.waitForLog((l) => l.msg === "config reload failed; the configuration in force is kept");
  expect(failed.err).toContain("invalid --log-level (file");
  expect((await configView(agent)).options["log-level"].value).toBe("debug");
  const reloadErrors = /antimetal_config_reloads_total\{trigger="(SIGHUP|file)",result="error"\} [1-9]/;
  expect(await metricsMatching(agent, reloadErrors)).toMatch(reloadErrors);

  // A SIGHUP storm does not end the process; SIGTERM still stops it cleanly.
  for (let i = 0; i < 20; i++) agent.proc.kill("SIGHUP");
  await Bun.sleep(500);
  expect(agent.proc.exitCode).toBeNull();
  expect(await agent.stop("SIGTERM")).toBe(0);
  expect(agent.logs.some((l) => l.msg === "stopped" && l.clean === true)).toBe(true);
}, 60_000);

test("a change of the --config file is applied without a signal", async () => {
  const { file } = setup("collectors: load\nperformance-collector-interval: 1s\n");
  agent = await startAgent([...STANDALONE, "--config", file, "--data-directory", ""]);
  await agent.waitForLog((l) => l.msg === "agent running");
  const t0 = Date.now();
  writeFileSync(file, "collectors: load\nperformance-collector-interval: 300ms\n");
  const line = await agent.waitForLog((l) => l.msg === "config reloaded: applied performance-collector-interval");
  expect(Date.now() - t0).toBeLessThan(2000); // the change notification, not the 5 s poll
  expect(line.trigger).toBe("file");
  expect(line.changes).toEqual({ "performance-collector-interval": { from: "1s", to: "300ms" } });
}, 30_000);

test("the collector interval changes live, visible in the timestamps of /metrics samples", async () => {
  const { file } = setup("collectors: load\nperformance-collector-interval: 1s\n");
  agent = await startAgent([...STANDALONE, "--config", file, "--data-directory", ""]);
  const s = sampler(agent, "load");
  await waitUntil("four collections at 1s", () => s.times.length >= 5, 10_000);
  const before = s.gaps();
  const n = s.times.length;
  writeFileSync(file, "collectors: load\nperformance-collector-interval: 200ms\n");
  agent.proc.kill("SIGHUP");
  await waitUntil("ten collections at 200ms", () => s.times.length >= n + 12, 10_000);
  await s.stop();
  const after = s.gaps(n + 1);
  expect(median(before)).toBeGreaterThan(900);
  expect(median(before)).toBeLessThan(1200);
  expect(median(after)).toBeGreaterThan(150);
  expect(median(after)).toBeLessThan(300);
  expect(await metrics(agent)).toContain('antimetal_collector_interval_seconds{collector="load"} 0.2');
}, 60_000);

test("config object files start a collector, change its interval and stop it, without a restart", async () => {
  const { file, objects } = setup("collectors: load\nperformance-collector-interval: 1s\n");
  agent = await startAgent([...STANDALONE, "--config", file, "--data-directory", "", "--config-loader", "fs", "--config-fs-path", objects]);
  const write = (seconds: number, version: string) =>
    writeFileSync(
      join(objects, "memory.json"),
      JSON.stringify(toJson(ObjectSchema, hostStatsObject("memory-collector", "memory", seconds, version))),
    );
  write(1, "v1");
  const started = await agent.waitForLog(
    (l) => l.msg === "collectors reconfigured" && Array.isArray(l.started) && (l.started as string[]).includes("memory"),
  );
  expect((started.intervals as any).memory.source).toBe(`config object memory-collector (version v1) from ${join(objects, "memory.json")}`);
  const s = sampler(agent, "memory");
  await waitUntil("memory at 1s", () => s.times.length >= 4, 10_000);
  write(2, "v2");
  await agent.waitForLog(
    (l) => l.msg === "collectors reconfigured" && Array.isArray(l.rescheduled) && (l.rescheduled as string[]).includes("memory"),
  );
  const n = s.times.length;
  await waitUntil("memory at 2s", () => s.times.length >= n + 3, 15_000);
  expect(median(s.gaps(n + 1))).toBeGreaterThan(1800);
  // an invalid edit: refused, the v2 interval stays
  writeFileSync(join(objects, "memory.json"), "{not json");
  await agent.waitForLog((l) => l.msg === "config object refused; the last good config stays in force");
  const objectErrors = /antimetal_config_object_errors_total\{loader="fs"\} [1-9]/;
  expect(await metricsMatching(agent, objectErrors)).toMatch(objectErrors);
  expect((await configView(agent)).collectors.memory.interval).toBe("2s");
  unlinkSync(join(objects, "memory.json"));
  await agent.waitForLog(
    (l) => l.msg === "collectors reconfigured" && Array.isArray(l.stopped) && (l.stopped as string[]).includes("memory"),
  );
  await s.stop();
  const last = s.times.at(-1)!;
  await Bun.sleep(2500);
  expect(lastSuccess(await metrics(agent), "memory")! * 1000).toBe(last);
  expect(await metrics(agent)).not.toContain('antimetal_collector_interval_seconds{collector="memory"}');
}, 60_000);

test("SIGHUP under load: collectors at 200 ms keep their pace and the host graph keeps writing to the store", async () => {
  const { file, dir: data } = setup("collectors: load,cpu,memory\nperformance-collector-interval: 200ms\nlog-level: info\n");
  agent = await startAgent([...STANDALONE, "--config", file, "--data-directory", data, "--hardware-update-interval", "1s"]);
  const refreshes = async () => Number(/antimetal_hostgraph_refreshes_total\{result="ok"\} (\d+)/.exec(await metrics(agent!))?.[1] ?? 0);
  await waitUntil("host graph written", async () => (await refreshes()) >= 1, 15_000);
  const s = sampler(agent, "cpu");
  await waitUntil("cpu at 200ms", () => s.times.length >= 5, 10_000);
  const refreshesBefore = await refreshes();
  const from = s.times.length;
  for (let i = 0; i < 40; i++) {
    writeFileSync(
      file,
      `collectors: load,cpu,memory\nperformance-collector-interval: 200ms\nlog-level: ${i % 2 ? "info" : "warn"}\ntop-process-count: ${10 + i}\n`,
    );
    agent.proc.kill("SIGHUP");
    await Bun.sleep(75);
  }
  await Bun.sleep(1500);
  await s.stop();
  const gaps = s.gaps(from);
  expect(gaps.length).toBeGreaterThan(15);
  expect(Math.max(...gaps)).toBeLessThan(450); // no collection skipped
  expect((await refreshes()) - refreshesBefore).toBeGreaterThanOrEqual(3);
  expect(await metrics(agent)).not.toMatch(/antimetal_hostgraph_refreshes_total\{result="error"\} [1-9]/);
  expect(reloads(agent).filter((l) => l.msg === "config reload failed; the configuration in force is kept")).toEqual([]);
  expect(await agent.stop("SIGTERM")).toBe(0);
  const p = Bun.spawn([requireBinary(), "store", "resources", "--type", "antimetal.hardware.v1.SystemNode", "--data-directory", data], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = JSON.parse(await new Response(p.stdout).text());
  expect(await p.exited).toBe(0);
  expect(out.resources.length).toBe(1);
}, 90_000);
