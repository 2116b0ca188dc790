// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_exporter parity, for real: Debian's prometheus-node-exporter (default collectors) and the compiled
// agent run side by side on this host; every family node_exporter serves with samples must be served by
// the agent with the same TYPE and label names (except the documented differences), stable values must
// agree within the drift of two reads, and `promtool check metrics` must accept the agent's output.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { type AgentProcess, ROOT, startAgent } from "../helpers/agent-process.ts";
import { type Family, parseExposition, promtoolCheckMetrics, sampleValue } from "../helpers/prom-text.ts";
import {
  DOC_TABLE_END,
  DOC_TABLE_START,
  differenceCovers,
  NODE_EXPORTER_DIFFERENCES,
  renderDifferencesTable,
} from "./node-exporter-differences.ts";

const NODE_EXPORTER = "/usr/bin/prometheus-node-exporter";
const STANDALONE = ["--data-directory", "", "--intake-address", "", "--enable-kubernetes-controller=false"];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === "string") throw new Error("no port from an ephemeral listener");
  return address.port;
}

async function scrape(url: string): Promise<string> {
  const r = await fetch(url);
  if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${await r.text()}`);
  return r.text();
}

async function waitForScrape(url: string, ready: (body: string) => boolean, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const body = await scrape(url);
      if (ready(body)) return body;
      last = "not ready yet";
    } catch (e) {
      last = (e as Error).message;
    }
    await Bun.sleep(200);
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms (last: ${last})`);
}

/** Every scheduled collector has collected, the 1 s ones twice (rates have their second sample). */
function agentWarm(body: string): boolean {
  const counts = [...body.matchAll(/^antimetal_collector_duration_seconds_count\{collector="([^"]+)"\} (\d+)$/gm)];
  const runs = new Map(counts.map((m) => [m[1]!, Number(m[2])]));
  return (
    runs.size > 0 && [...runs.values()].every((n) => n >= 1) && (runs.get("cpu") ?? 0) >= 3 && /^node_filesystem_size_bytes\{/m.test(body)
  );
}

const covered = (family: string) => NODE_EXPORTER_DIFFERENCES.some((d) => differenceCovers(d, family));

let nodeExporter: Subprocess | undefined;
let agent: AgentProcess | undefined;
let neUrl = "";
let agentUrl = "";

beforeAll(async () => {
  if (!existsSync(NODE_EXPORTER)) throw new Error(`${NODE_EXPORTER} is missing: apt-get install prometheus-node-exporter`);
  const port = await freePort();
  nodeExporter = Bun.spawn([NODE_EXPORTER, `--web.listen-address=127.0.0.1:${port}`], { stdout: "ignore", stderr: "ignore" });
  neUrl = `http://127.0.0.1:${port}/metrics`;
  agent = await startAgent([...STANDALONE, "--enable-performance-collectors", "--performance-collector-interval", "1s"]);
  agentUrl = `http://127.0.0.1:${agent.ports.metrics}/metrics`;
  await waitForScrape(neUrl, (body) => body.includes("node_load1 "));
  await waitForScrape(agentUrl, agentWarm);
}, 60_000);

afterAll(async () => {
  nodeExporter?.kill("SIGKILL");
  await nodeExporter?.exited;
  await agent?.stop("SIGKILL");
});

describe("node_exporter parity", () => {
  test("every family node_exporter serves with samples is served by the agent, with the same TYPE and label names", async () => {
    const [ne, ours] = await Promise.all([scrape(neUrl), scrape(agentUrl)]).then((bodies) => bodies.map(parseExposition));
    const served = [...ne!.values()].filter((f) => f.samples.length > 0 && !covered(f.name));
    const missing: string[] = [];
    const typeMismatches: string[] = [];
    const labelMismatches: string[] = [];
    for (const f of served) {
      const a = ours!.get(f.name);
      if (!a || a.samples.length === 0) {
        missing.push(f.name);
        continue;
      }
      if (a.type !== f.type) typeMismatches.push(`${f.name}: node_exporter ${f.type}, agent ${a.type}`);
      const want = [...f.labelNames].sort().join(",");
      const got = [...a.labelNames].sort().join(",");
      if (want !== got) labelMismatches.push(`${f.name}: node_exporter {${want}}, agent {${got}}`);
    }
    expect(served.length).toBeGreaterThan(100); // node_exporter really answered
    // Every list in full in one assertion, so one run names every gap.
    expect({ missing, typeMismatches, labelMismatches }).toEqual({ missing: [], typeMismatches: [], labelMismatches: [] });
  });

  test("each listed difference is one: the agent serves no family it covers", async () => {
    const ours = parseExposition(await scrape(agentUrl));
    const stale = NODE_EXPORTER_DIFFERENCES.filter((d) => [...ours.keys()].some((name) => differenceCovers(d, name))).map(
      (d) => d.families,
    );
    expect({ stale }).toEqual({ stale: [] });
  });

  test("docs/metrics.md shows the list of differences as the test has it", () => {
    const doc = readFileSync(join(ROOT, "docs/metrics.md"), "utf8");
    const start = doc.indexOf(DOC_TABLE_START);
    const end = doc.indexOf(DOC_TABLE_END);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(start);
    expect(doc.slice(start, end + DOC_TABLE_END.length)).toBe(renderDifferencesTable());
  });

  test("stable values agree: memory and swap totals, boot time, CPU count, filesystem sizes and inodes", async () => {
    const [ne, ours] = await Promise.all([scrape(neUrl), scrape(agentUrl)]).then((bodies) => bodies.map(parseExposition));
    for (const name of ["node_memory_MemTotal_bytes", "node_memory_SwapTotal_bytes", "node_boot_time_seconds"]) {
      expect({ name, value: sampleValue(ours!, name) }).toEqual({ name, value: sampleValue(ne!, name) });
    }
    // Both run on the host itself: the agent sees the host's network and mounts, as node_exporter does.
    expect(sampleValue(ours!, "antimetal_host_view_info", { network: "host", mounts: "host" })).toBe(1);
    const cpus = (fams: Map<string, Family>) => new Set(fams.get("node_cpu_seconds_total")?.samples.map((s) => s.labels.cpu)).size;
    expect(cpus(ours!)).toBe(cpus(ne!));
    expect(cpus(ne!)).toBeGreaterThan(0);

    // Every filesystem node_exporter reports, the agent reports with the same size and inode count.
    const neSizes = ne!.get("node_filesystem_size_bytes")?.samples ?? [];
    expect(neSizes.length).toBeGreaterThan(0);
    for (const s of neSizes) {
      const key = { mountpoint: s.labels.mountpoint!, device: s.labels.device!, fstype: s.labels.fstype! };
      expect({ ...key, size: sampleValue(ours!, "node_filesystem_size_bytes", key) }).toEqual({ ...key, size: s.value });
      const neFiles = sampleValue(ne!, "node_filesystem_files", key)!;
      const files = sampleValue(ours!, "node_filesystem_files", key);
      expect(files, `inodes of ${key.mountpoint}`).toBeDefined();
      expect(Math.abs(files! - neFiles)).toBeLessThanOrEqual(neFiles * 0.01);
    }
  });

  test("counters lie between two node_exporter reads taken around the agent's collection", async () => {
    const runsOf = (fams: Map<string, Family>) =>
      ["cpu", "system", "disk", "network"].map(
        (collector) => sampleValue(fams, "antimetal_collector_duration_seconds_count", { collector }) ?? 0,
      );
    const runsBefore = runsOf(parseExposition(await scrape(agentUrl)));
    const before = parseExposition(await scrape(neUrl));
    // Two more runs of each collector: the second of them started after `before` was read.
    let ours = parseExposition(await scrape(agentUrl));
    for (const deadline = Date.now() + 20_000; runsOf(ours).some((n, i) => n < runsBefore[i]! + 2); ) {
      if (Date.now() > deadline) throw new Error(`the agent's collectors did not run twice in 20 s: ${runsOf(ours)} vs ${runsBefore}`);
      await Bun.sleep(200);
      ours = parseExposition(await scrape(agentUrl));
    }
    const after = parseExposition(await scrape(neUrl));
    const checks: Array<[string, Record<string, string>]> = [
      ["node_context_switches_total", {}],
      ["node_intr_total", {}],
      ["node_forks_total", {}],
      ["node_cpu_seconds_total", { cpu: "0", mode: "user" }],
      ["node_cpu_seconds_total", { cpu: "0", mode: "system" }],
    ];
    for (const family of [
      "node_disk_reads_completed_total",
      "node_disk_written_bytes_total",
      "node_network_receive_bytes_total",
      "node_network_transmit_packets_total",
    ]) {
      const devices = before.get(family)?.samples.map((s) => s.labels.device!) ?? [];
      expect({ family, devices: devices.length > 0 }).toEqual({ family, devices: true });
      for (const device of devices) checks.push([family, { device }]);
    }
    const outside: string[] = [];
    for (const [name, labels] of checks) {
      const low = sampleValue(before, name, labels);
      const high = sampleValue(after, name, labels);
      const value = sampleValue(ours, name, labels);
      const where = `${name}${JSON.stringify(labels)}`;
      if (low === undefined || high === undefined || value === undefined) {
        outside.push(`${where}: node_exporter ${low}..${high}, agent ${value}`);
        continue;
      }
      const slack = name === "node_cpu_seconds_total" ? 0.02 : 0; // ticks / USER_HZ as floats
      if (value < low - slack || value > high + slack) outside.push(`${where}: node_exporter ${low}..${high}, agent ${value}`);
    }
    expect({ outside }).toEqual({ outside: [] });
  });

  test("promtool check metrics accepts the agent's output (only the lint findings node_exporter's own names carry)", async () => {
    const [neBody, ours] = await Promise.all([scrape(neUrl), scrape(agentUrl)]);
    const neProblems = new Set(promtoolCheckMetrics(neBody).problems);
    const result = promtoolCheckMetrics(ours);
    expect({ status: result.status === 0 || result.status === 3, problems: result.status === 3 ? [] : result.problems }).toEqual({
      status: true,
      problems: [],
    });
    // node_exporter keeps the kernel's field names (node_memory_MemTotal_bytes, node_netstat_Tcp_InSegs):
    // promtool's camelCase lint fires on those in both exporters. Anything else is the agent's own fault.
    const kernelFieldFamilies =
      /^node_(memory|netstat|sockstat|vmstat)_\S+ metric names should be written in 'snake_case' not 'camelCase'$/;
    const ownProblems = result.problems.filter((p) => !neProblems.has(p) && !kernelFieldFamilies.test(p));
    expect({ ownProblems }).toEqual({ ownProblems: [] });
  });
});
