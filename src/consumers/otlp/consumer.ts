// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The OpenTelemetry consumer ("opentelemetry", --enable-otel): events from the metrics router go into
// its own bounded buffer; its loop exports them every export interval, or as soon as a batch is full.

import type { Logger } from "../../log/logger.ts";
import type { MetricEvent } from "../../perf/collector.ts";
import type { ConsumerHealth, MetricsConsumer } from "../consumer.ts";
import { EventBuffer } from "../event-buffer.ts";
import { consumerEvents } from "../self-metrics.ts";
import type { Attrs } from "./batch.ts";
import type { OtlpConfig } from "./config.ts";
import { OtlpExporter } from "./exporter.ts";
import { BatchProcessor } from "./processor.ts";
import { createTransport, type OtlpTransport } from "./transport.ts";

export interface OtlpConsumerOptions {
  config: OtlpConfig;
  /** host.name of every point (empty: left out). */
  nodeName: string;
  /** k8s.cluster.name of every point (empty: left out). */
  clusterName?: string;
  /** The host's boot time: the start of every kernel counter's cumulative series. */
  bootTimeMs: number;
  logger: Logger;
  /** For tests and benchmarks: another transport. */
  transport?: OtlpTransport;
}

export class OtlpConsumer implements MetricsConsumer {
  readonly name = "opentelemetry";
  readonly required = false;
  private readonly buffer: EventBuffer;
  private readonly stopping = new AbortController();
  private readonly cancel = new AbortController();
  private transport: OtlpTransport | undefined;
  private exporter: OtlpExporter | undefined;
  private processor: BatchProcessor | undefined;
  private loop: Promise<void> | undefined;
  private received = 0;
  private started = false;
  private readonly startedAt = Date.now();

  constructor(private readonly opts: OtlpConsumerOptions) {
    this.buffer = new EventBuffer(this.name, opts.config.maxQueueSize, opts.config.exportBatchSize);
  }

  handleEvent(event: MetricEvent): void {
    this.received++;
    if (this.buffer.push(event)) consumerEvents.inc({ consumer: this.name });
  }

  async start(): Promise<void> {
    const { config, logger } = this.opts;
    this.transport = this.opts.transport ?? createTransport(config);
    this.exporter = new OtlpExporter(config, this.transport, logger);
    const base: Attrs = {};
    if (this.opts.nodeName) base["host.name"] = this.opts.nodeName;
    if (this.opts.clusterName) base["k8s.cluster.name"] = this.opts.clusterName;
    base["service.instance.id"] = "performance-collector";
    if (config.serviceVersion) base["service.version"] = config.serviceVersion;
    this.processor = new BatchProcessor(config, this.exporter, base, this.opts.bootTimeMs, logger);
    this.started = true;
    this.loop = this.run();
    logger.info(
      { protocol: config.protocol, target: config.target, compression: config.compression, intervalMs: config.exportIntervalMs },
      "exporting metrics over OTLP",
    );
  }

  private async run(): Promise<void> {
    const stop = this.stopping.signal;
    while (!stop.aborted) {
      await this.buffer.wait(this.opts.config.exportIntervalMs, stop);
      await this.flush();
    }
    // one more pass for what arrived before the buffer closed: one attempt per batch, no retries
    await this.flush();
  }

  private async flush(): Promise<void> {
    const signals = { stop: this.stopping.signal, cancel: this.cancel.signal };
    while (this.buffer.length > 0 && !this.cancel.signal.aborted) {
      await this.processor!.process(this.buffer.take(this.opts.config.exportBatchSize), signals);
    }
  }

  async stop(deadline: AbortSignal): Promise<void> {
    if (!this.started) return;
    const onDeadline = () => this.cancel.abort();
    deadline.addEventListener("abort", onDeadline, { once: true });
    this.buffer.close();
    this.stopping.abort();
    // a request that ignores its cancellation must not hold the shutdown past its deadline
    await Promise.race([this.loop, new Promise<void>((resolve) => deadline.addEventListener("abort", () => resolve(), { once: true }))]);
    deadline.removeEventListener("abort", onDeadline);
    this.transport?.close();
    const left = this.buffer.length;
    if (left > 0) this.exporter!.stats.droppedEvents.stopped += left;
    this.opts.logger.info(
      {
        eventsReceived: this.received,
        eventsExported: this.processor!.exportedEvents,
        bufferDropped: this.buffer.dropped,
        exportDropped: this.exporter!.stats.droppedEvents,
        exportedPoints: this.exporter!.stats.exportedPoints,
        rejectedPoints: this.exporter!.stats.rejectedPoints,
        requests: this.exporter!.stats.requests,
        bytes: this.exporter!.stats.wireBytes,
        errors: this.processor!.errors,
        bufferCapacity: this.buffer.capacity,
        uptimeMs: Date.now() - this.startedAt,
      },
      "OTLP consumer stopped",
    );
  }

  isReady(): boolean {
    return this.started;
  }

  health(): ConsumerHealth {
    const stats = this.exporter?.stats;
    const lastError = stats?.lastError || this.processor?.lastError || "";
    return {
      healthy: true,
      lastError,
      eventsCount: this.received,
      errorsCount: (this.processor?.errors ?? 0) + (stats ? Object.values(stats.droppedEvents).reduce((a, b) => a + b, 0) : 0),
      droppedCount: this.buffer.dropped,
    };
  }

  /** Export statistics (requests, points, bytes) for tests and benchmarks. */
  exportStats() {
    return { ...this.exporter?.stats, exportedEvents: this.processor?.exportedEvents ?? 0 };
  }
}
