// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The compiled agent exports to a real OpenTelemetry Collector (OTLP receiver, file exporter) over gRPC
// and http/protobuf, gzip-compressed, with a bearer token in the configured headers: every collector's
// metrics arrive with the catalogue's names, units, attributes and the values `collect` reads from the
// same host tree; a wrong token is refused and counted.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { type AgentProcess, requireBinary, startAgent } from "../helpers/agent-process.ts";
import { type Collector, eventually, type Point, startCollector } from "./collector.ts";
import { type Expected, expectedFor, parseCollect } from "./expected.ts";
import { makeHostTree } from "./host-tree.ts";

const COLLECTORS = "load,memory,cpu,disk,network,tcp,system,process,numa_stats";
const TOKEN = "s3cret-token";
let root: string;
let collector: Collector;
let expected: Expected[];

beforeAll(async () => {
  root = makeHostTree();
  const out = Bun.spawnSync([
    requireBinary(),
    "collect",
    "--collectors",
    COLLECTORS,
    "--host-proc",
    `${root}/proc`,
    "--host-sys",
    `${root}/sys`,
    "--format",
    "json",
  ]);
  expect(out.exitCode).toBe(0);
  const collected = parseCollect(out.stdout.toString());
  expect(collected.errors).toBeUndefined();
  expected = expectedFor(collected);
  // the tree feeds every collector: two NUMA nodes (10 series each), no processes (count 0)
  expect(expected.filter((e) => e.name.startsWith("system.memory.numa.")).length).toBe(20);
  expect(expected).toContainEqual({ name: "system.processes.count", kind: "gauge", unit: "1", attrs: {}, value: "0" });
  collector = await startCollector({ token: TOKEN });
});

afterAll(async () => {
  await collector?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

function agentArgs(extra: string[]): string[] {
  return [
    "--enable-performance-collectors",
    "--collectors",
    COLLECTORS,
    "--performance-collector-interval",
    "300ms",
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
    "otlp-test-node",
    "--enable-otel",
    "--otel-export-interval",
    "300ms",
    ...extra,
  ];
}

const key = (name: string, kind: string, attrs: Record<string, string>) =>
  `${name}|${kind}|${Object.keys(attrs)
    .sort()
    .map((k) => `${k}=${attrs[k]}`)
    .join(",")}`;

const BASE = { "host.name": "otlp-test-node", "service.instance.id": "performance-collector" };

/** Waits until the collector holds a point of every expected series whose source is `serviceName`'s agent, then compares. */
async function expectCatalogue(serviceName: string): Promise<void> {
  const mine = () => collector.points().filter((p) => p.resource["service.name"] === serviceName);
  const wanted = new Set(expected.map((e) => key(e.name, e.kind, { ...BASE, ...e.attrs })));
  const seen = () => new Set(mine().map((p) => key(p.name, p.kind, withoutVersion(p.attrs))));
  await eventually(() => [...wanted].every((k) => seen().has(k)), 20_000, `every series of ${serviceName}`);
  const last = new Map<string, Point>();
  for (const p of mine()) last.set(key(p.name, p.kind, withoutVersion(p.attrs)), p);
  for (const e of expected) {
    const p = last.get(key(e.name, e.kind, { ...BASE, ...e.attrs }))!;
    expect({ name: p.name, unit: p.unit }).toEqual({ name: e.name, unit: e.unit });
    if (typeof e.value === "number") expect(p.value as number).toBeCloseTo(e.value, 12);
    else expect({ name: e.name, attrs: e.attrs, value: p.value }).toEqual({ name: e.name, attrs: e.attrs, value: e.value });
    if (e.kind === "sum") {
      expect(p.monotonic).toBe(true);
      expect(p.temporality).toBe(2); // AGGREGATION_TEMPORALITY_CUMULATIVE
      // kernel counters count from boot: the fixture's btime
      expect(p.start).toBe(String(1764900000n * 1_000_000_000n));
    }
    expect(p.attrs["service.version"]).toBeString();
  }
  // nothing outside the catalogue, and one metric per name
  const names = new Set(expected.map((e) => e.name));
  for (const p of mine()) expect(names.has(p.name)).toBe(true);
  const p0 = mine()[0]!;
  expect(p0.resource).toEqual({
    "service.name": serviceName,
    "service.version": p0.attrs["service.version"]!,
    "telemetry.distro.name": "antimetal-agent",
    "deployment.environment": "test",
  });
  expect(p0.scope).toEqual({ name: "github.com/antimetal/agent", version: "1.0.0" });
}

function withoutVersion(attrs: Record<string, string>): Record<string, string> {
  const { "service.version": _v, ...rest } = attrs;
  return rest;
}

async function runAgainst(env: Record<string, string>, serviceName: string): Promise<AgentProcess> {
  const agent = await startAgent(agentArgs([]), {
    OTEL_SERVICE_NAME: serviceName,
    OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test,service.name=ignored",
    OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Bearer ${TOKEN}`,
    OTEL_EXPORTER_OTLP_INSECURE: "true",
    ...env,
  });
  return agent;
}

describe("OTLP export to a real OpenTelemetry Collector", () => {
  test("gRPC, gzip, headers: every metric with the catalogue's name, unit, attributes and collect's value", async () => {
    const agent = await runAgainst({ OTEL_EXPORTER_OTLP_ENDPOINT: `127.0.0.1:${collector.grpcPort}` }, "agent-grpc");
    try {
      await expectCatalogue("agent-grpc");
      expect(agent.logs.some((l) => l.msg === "exporting metrics over OTLP" && l.compression === "gzip" && l.protocol === "grpc")).toBe(
        true,
      );
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  }, 60_000);

  test("http/protobuf, gzip, headers: the same metrics", async () => {
    const agent = await runAgainst(
      { OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf", OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.httpPort}` },
      "agent-http",
    );
    try {
      await expectCatalogue("agent-http");
      const metrics = await (await fetch(`http://127.0.0.1:${agent.ports.metrics}/metrics`)).text();
      expect(metrics).toMatch(/antimetal_otlp_export_requests_total\{result="ok"\} [1-9]/);
      expect(metrics).toMatch(/antimetal_otlp_sent_bytes_total [1-9]/);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  }, 60_000);

  for (const protocol of ["grpc", "http/protobuf"] as const) {
    test(`${protocol}: a wrong bearer token is refused, not retried, and the dropped events are counted`, async () => {
      const endpoint = protocol === "grpc" ? `127.0.0.1:${collector.grpcPort}` : `http://127.0.0.1:${collector.httpPort}`;
      const agent = await runAgainst(
        {
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
          OTEL_EXPORTER_OTLP_HEADERS: "Authorization=Bearer wrong",
        },
        `agent-badtoken-${protocol}`,
      );
      try {
        await agent.waitForLog((l) => l.msg === "OTLP export given up; its events are dropped" && l.reason === "permanent", 20_000);
        const metrics = await (await fetch(`http://127.0.0.1:${agent.ports.metrics}/metrics`)).text();
        expect(metrics).toMatch(/antimetal_otlp_dropped_events_total\{reason="permanent"\} [1-9]/);
        expect(metrics).not.toMatch(/antimetal_otlp_export_requests_total\{result="retryable"\}/);
        expect(collector.points().some((p) => p.resource["service.name"] === `agent-badtoken-${protocol}`)).toBe(false);
      } finally {
        expect(await agent.stop()).toBe(0);
      }
    }, 60_000);
  }
});
