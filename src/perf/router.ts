// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Fan-out of metric events to consumers (the Prometheus exposition) through a bounded, non-blocking
// queue; drops and consumer errors are counted.

import type { Logger } from "../log/logger.ts";
import { BoundedQueue } from "../util/bounded-queue.ts";
import { errorMessage } from "../util/errors.ts";
import type { MetricConsumer, MetricEvent } from "./collector.ts";
import { routerConsumerErrors } from "./self-metrics.ts";

/**
 * Fan-out of metric events to consumers (Prometheus exposition, later OTLP). publish() never blocks:
 * events go into a bounded queue (drops are counted under antimetal_queue_dropped_total{queue=
 * "metrics_router"}) drained on the next microtask. A consumer that throws is counted and skipped.
 */
export class MetricsRouter {
  private readonly queue: BoundedQueue<MetricEvent>;
  private readonly consumers = new Set<MetricConsumer>();
  private scheduled = false;

  constructor(opts: { capacity?: number; logger?: Logger; queueName?: string } = {}) {
    this.queue = new BoundedQueue(opts.queueName ?? "metrics_router", opts.capacity ?? 10000);
    this.logger = opts.logger;
  }
  private readonly logger: Logger | undefined;

  /** Queues an event; false if the queue was full and it was dropped. */
  publish(event: MetricEvent): boolean {
    const ok = this.queue.push(event, "full");
    if (ok && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.drain());
    }
    return ok;
  }

  /** Adds a consumer; returns its unsubscribe function. */
  subscribe(consumer: MetricConsumer): () => void {
    this.consumers.add(consumer);
    return () => this.consumers.delete(consumer);
  }

  /** Delivers everything queued now (also used by tests and at shutdown). */
  drain(): void {
    this.scheduled = false;
    for (let e = this.queue.shift(); e !== undefined; e = this.queue.shift()) {
      for (const c of this.consumers) {
        try {
          c.accept(e);
        } catch (err) {
          routerConsumerErrors.inc({ consumer: c.name });
          this.logger?.warn({ consumer: c.name, err: errorMessage(err) }, "metric consumer failed");
        }
      }
    }
  }

  get depth(): number {
    return this.queue.length;
  }
}
