// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Across a restart of the OpenTelemetry Collector nothing is lost beyond the consumer's queue bound:
// every event the consumer kept arrives once the collector is back, the ones the full queue refused are
// counted on /metrics and in the stop summary, and collection and /metrics go on while the endpoint is down.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { collectionCount, startAgent } from "../helpers/agent-process.ts";
import { type Collector, eventually, startCollector } from "./collector.ts";
import { makeHostTree } from "./host-tree.ts";

let root: string;
let collector: Collector;

beforeAll(async () => {
  root = makeHostTree();
  collector = await startCollector();
});

afterAll(async () => {
  await collector?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

const QUEUE = 8;

for (const protocol of ["grpc", "http/protobuf"] as const) {
  test(`${protocol}: a collector restart loses only what overflowed the queue, and counts it`, async () => {
    const service = `agent-restart-${protocol.replace("/", "-")}`;
    const endpoint = protocol === "grpc" ? `127.0.0.1:${collector.grpcPort}` : `127.0.0.1:${collector.httpPort}`;
    const agent = await startAgent(
      [
        "--enable-performance-collectors",
        "--collectors",
        "load",
        "--performance-collector-interval",
        "100ms",
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
        "--enable-otel",
        "--otel-export-interval",
        "200ms",
      ],
      {
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: protocol,
        OTEL_EXPORTER_OTLP_INSECURE: "1",
        OTEL_EXPORTER_METRICS_MAX_QUEUE_SIZE: String(QUEUE),
        OTEL_EXPORTER_METRICS_EXPORT_BATCH_SIZE: "4",
        OTEL_SERVICE_NAME: service,
      },
    );
    const uptimes = () =>
      new Set(
        collector
          .points()
          .filter((p) => p.resource["service.name"] === service && p.name === "system.uptime")
          .map((p) => p.time),
      );
    try {
      await eventually(() => uptimes().size >= 3, 15_000, "the first exports");
      await collector.stop();
      // the endpoint is down: collection and /metrics go on
      const before = await collectionCount(agent, "load");
      await Bun.sleep(3000);
      expect(await collectionCount(agent, "load")).toBeGreaterThan(before + 10);
      const down = await (await fetch(`http://127.0.0.1:${agent.ports.metrics}/metrics`)).text();
      expect(down).toMatch(/antimetal_queue_dropped_total\{queue="consumer_opentelemetry",reason="full"\} [1-9]/);
      expect(down).toContain(`antimetal_queue_capacity{queue="consumer_opentelemetry"} ${QUEUE}`);
      expect(down).toMatch(/antimetal_otlp_export_requests_total\{result="retryable"\} [1-9]/);
      await collector.start();
      const resumed = uptimes().size;
      await eventually(() => uptimes().size > resumed + 3, 40_000, "exports after the restart");
    } finally {
      expect(await agent.stop()).toBe(0);
    }
    const summary = agent.logs.find((l) => l.msg === "OTLP consumer stopped")!;
    const exportDropped = summary.exportDropped as Record<string, number>;
    // every event is exported, refused by the full queue, or given up and counted
    expect(summary.eventsReceived).toBe(
      (summary.eventsExported as number) + (summary.bufferDropped as number) + Object.values(exportDropped).reduce((a, b) => a + b, 0),
    );
    expect(summary.bufferDropped as number).toBeGreaterThan(0);
    expect(exportDropped.retries_exhausted).toBe(0);
    expect(exportDropped.permanent).toBe(0);
    // and each exported event reached the collector (a retried request may arrive twice: distinct times)
    await eventually(() => uptimes().size >= (summary.eventsExported as number), 5000, "the last file flush");
    expect(uptimes().size).toBe(summary.eventsExported as number);
  }, 90_000);
}
