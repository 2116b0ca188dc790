// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The debug consumer (--enable-debug-consumer): logs every metric event at the chosen level and format.
// Events wait in its own bounded buffer and are printed off the router's path.

import type { Logger } from "../../log/logger.ts";
import type { MetricEvent } from "../../perf/collector.ts";
import { errorMessage } from "../../util/errors.ts";
import type { ConsumerHealth, MetricsConsumer } from "../consumer.ts";
import { EventBuffer } from "../event-buffer.ts";
import { consumerErrors, consumerEvents } from "../self-metrics.ts";
import { type DebugConfig, type DebugStats, formatEvent } from "./format.ts";

/** Every event's source: the performance collectors. */
const SOURCE = "performance-collector";
/** Events waiting to be printed; more are dropped and counted. */
const BUFFER_CAPACITY = 10_000;

export class DebugConsumer implements MetricsConsumer {
  readonly name = "debug";
  readonly required = false;
  private readonly buffer = new EventBuffer(this.name, BUFFER_CAPACITY);
  private readonly stats: DebugStats = { eventsProcessed: 0, errorsCount: 0, uptimeNs: 0n, byType: {}, bySource: {} };
  private readonly startedAt = process.hrtime.bigint();
  private scheduled = false;
  private lastError = "";

  constructor(
    private readonly cfg: DebugConfig,
    private readonly logger: Logger,
    private readonly clusterName = "",
    /** Where lines go (the logger's info by default). */
    private readonly write: (line: string) => void = (line) => logger.info(line),
  ) {}

  handleEvent(event: MetricEvent): void {
    if (!this.buffer.push(event)) return;
    consumerEvents.inc({ consumer: this.name });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  /** Prints everything buffered (also at stop). */
  drain(): void {
    this.scheduled = false;
    for (const e of this.buffer.take()) {
      const s = this.stats;
      const withStats = s.eventsProcessed % 1000 === 0;
      s.eventsProcessed++;
      s.byType[e.metricType] = (s.byType[e.metricType] ?? 0) + 1;
      s.bySource[SOURCE] = (s.bySource[SOURCE] ?? 0) + 1;
      s.uptimeNs = process.hrtime.bigint() - this.startedAt;
      try {
        for (const line of formatEvent(e, this.cfg, { source: SOURCE, clusterName: this.clusterName }, withStats ? s : undefined))
          this.write(line);
      } catch (err) {
        s.errorsCount++;
        this.lastError = errorMessage(err);
        consumerErrors.inc({ consumer: this.name });
      }
    }
  }

  async start(): Promise<void> {
    this.logger.info({ level: this.cfg.level, format: this.cfg.format }, "debug consumer logging metric events");
  }

  async stop(): Promise<void> {
    this.buffer.close();
    this.drain();
  }

  isReady(): boolean {
    return true;
  }

  health(): ConsumerHealth {
    return {
      healthy: true,
      lastError: this.lastError,
      eventsCount: this.stats.eventsProcessed,
      errorsCount: this.stats.errorsCount,
      droppedCount: this.buffer.dropped,
    };
  }
}
