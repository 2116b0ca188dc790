// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Consumers behind the metrics router: an OTLP endpoint that never answers delays neither the router nor
// another consumer; its buffer refuses and counts what does not fit; retries only on retryable failures;
// a partial success counts the rejected points.

import { expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { createLogger } from "../log/logger.ts";
import { registry } from "../metrics/registry.ts";
import type { MetricEvent } from "../perf/collector.ts";
import { MetricsRouter } from "../perf/router.ts";
import { ExportMetricsServiceResponseSchema } from "../proto/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.ts";
import { subscribeConsumer } from "./consumer.ts";
import { DebugConsumer } from "./debug/consumer.ts";
import { debugConfigFrom } from "./debug/format.ts";
import type { OtlpConfig } from "./otlp/config.ts";
import { OtlpConsumer } from "./otlp/consumer.ts";
import type { OtlpTransport, SendResult } from "./otlp/transport.ts";

/** Polls `done` (a loaded CI machine stretches the backoff's timers; a fixed sleep is not enough there). */
async function until(done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await Bun.sleep(5);
  }
}

const logger = createLogger({ level: "error" });
const cfg = (o: Partial<OtlpConfig> = {}): OtlpConfig => ({
  protocol: "grpc",
  target: "x:1",
  insecure: true,
  headers: {},
  compression: "gzip",
  timeoutMs: 1000,
  exportIntervalMs: 20,
  exportBatchSize: 2,
  maxQueueSize: 5,
  resource: [["service.name", "t"]],
  serviceVersion: "v",
  retry: { initialMs: 5, maxMs: 10, multiplier: 2, maxElapsedMs: 200 },
  ...o,
});
const load = (i: number): MetricEvent =>
  ({
    timestamp: new Date(1000 + i),
    metricType: "load",
    eventType: "gauge",
    nodeName: "n",
    data: { load_1min: 1, load_5min: 1, load_15min: 1, running_procs: 1, total_procs: 1, blocked_procs: 0, last_pid: 1, uptime: 1n },
  }) as MetricEvent;

class ScriptedTransport implements OtlpTransport {
  calls = 0;
  constructor(private readonly answer: (call: number, signal: AbortSignal) => Promise<SendResult>) {}
  send(_body: Uint8Array, signal: AbortSignal): Promise<SendResult> {
    return this.answer(++this.calls, signal);
  }
  close(): void {
    this.calls += 0;
  }
}

test("a hung OTLP endpoint delays neither the router nor the debug consumer; overflow is counted", async () => {
  // answers only when cancelled (the stop deadline)
  const never = new ScriptedTransport(
    (_n, signal) => new Promise((resolve) => signal.addEventListener("abort", () => resolve({ ok: false, retryable: true, wireBytes: 0 }))),
  );
  const otlp = new OtlpConsumer({ config: cfg(), nodeName: "n", bootTimeMs: 0, logger, transport: never });
  const lines: string[] = [];
  const debug = new DebugConsumer(debugConfigFrom("basic", "text"), logger, "", (l) => lines.push(l));
  const router = new MetricsRouter({ queueName: "test_router_isolation" });
  subscribeConsumer(router, otlp);
  subscribeConsumer(router, debug);
  await otlp.start();
  await debug.start();
  const t0 = performance.now();
  for (let i = 0; i < 50; i++) router.publish(load(i));
  router.drain();
  expect(performance.now() - t0).toBeLessThan(1000);
  await Bun.sleep(50);
  expect(lines.filter((l) => l.includes("Event: load")).length).toBe(50);
  // 5 queued + one batch of 2 in flight at most: the rest refused and counted
  expect(otlp.health().droppedCount).toBeGreaterThanOrEqual(50 - 5 - 2);
  const text = await registry.metrics();
  expect(text).toMatch(/antimetal_queue_dropped_total\{queue="consumer_opentelemetry",reason="full"\} [1-9]/);
  await otlp.stop(AbortSignal.timeout(100));
  await debug.stop();
});

test("retries retryable failures with backoff, gives up on permanent ones at once, counts partial success", async () => {
  const partial = toBinary(ExportMetricsServiceResponseSchema, create(ExportMetricsServiceResponseSchema, {}));
  expect(partial.length).toBe(0);
  const flaky = new ScriptedTransport(async (n) =>
    n < 3
      ? { ok: false, retryable: true, error: "UNAVAILABLE", wireBytes: 10 }
      : {
          ok: true,
          retryable: false,
          wireBytes: 10,
          response: create(ExportMetricsServiceResponseSchema, { partialSuccess: { rejectedDataPoints: 2n, errorMessage: "bad" } }),
        },
  );
  const a = new OtlpConsumer({ config: cfg({ exportBatchSize: 1 }), nodeName: "n", bootTimeMs: 0, logger, transport: flaky });
  await a.start();
  a.handleEvent(load(1));
  await until(() => a.exportStats().exportedEvents === 1); // two retries, then success
  await Bun.sleep(50); // nothing more is sent after the success
  await a.stop(AbortSignal.timeout(500));
  expect(flaky.calls).toBe(3);
  expect(a.exportStats()).toMatchObject({ requests: 3, rejectedPoints: 2, exportedPoints: 5 - 2, exportedEvents: 1 });

  const refused = new ScriptedTransport(async () => ({ ok: false, retryable: false, error: "UNAUTHENTICATED", wireBytes: 10 }));
  const b = new OtlpConsumer({ config: cfg({ exportBatchSize: 1 }), nodeName: "n", bootTimeMs: 0, logger, transport: refused });
  await b.start();
  b.handleEvent(load(1));
  await until(() => refused.calls === 1);
  await Bun.sleep(50); // and no retry follows
  await b.stop(AbortSignal.timeout(500));
  expect(refused.calls).toBe(1);
  expect(b.exportStats().droppedEvents).toEqual({ permanent: 1, retries_exhausted: 0, stopped: 0 });
  expect(b.health().errorsCount).toBe(1);
});

test("a retry budget that runs out drops the batch and counts it", async () => {
  const down = new ScriptedTransport(async () => ({ ok: false, retryable: true, error: "UNAVAILABLE", wireBytes: 1 }));
  const c = new OtlpConsumer({
    config: cfg({ exportBatchSize: 1, retry: { initialMs: 10, maxMs: 20, multiplier: 2, maxElapsedMs: 60 } }),
    nodeName: "n",
    bootTimeMs: 0,
    logger,
    transport: down,
  });
  await c.start();
  c.handleEvent(load(1));
  await until(() => c.exportStats().droppedEvents?.retries_exhausted === 1);
  await c.stop(AbortSignal.timeout(500));
  expect(c.exportStats().droppedEvents?.retries_exhausted).toBe(1);
  expect(down.calls).toBeGreaterThan(1);
});
