// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The metrics consumer interface (OTLP, debug) and its subscription to the metrics router: the router
// hands each consumer an event by an O(1) push into the consumer's own bounded buffer, so no consumer's
// speed or failure delays collection, /metrics or another consumer.

import type { MetricEvent } from "../perf/collector.ts";
import type { MetricsRouter } from "../perf/router.ts";
import type { Component } from "../runtime/component.ts";

/** A consumer's state, as the original's ConsumerHealth (events counted, errors, the last error). */
export interface ConsumerHealth {
  healthy: boolean;
  lastError: string;
  eventsCount: number;
  errorsCount: number;
  /** Events its buffer refused (full, or after stop). */
  droppedCount: number;
}

/** A subscriber of the metrics router that runs as a component of the agent. */
export interface MetricsConsumer extends Component {
  /** Unique among consumers ("opentelemetry", "debug"). */
  readonly name: string;
  /** Never blocks: buffers the event (or drops and counts it) and returns. */
  handleEvent(event: MetricEvent): void;
  health(): ConsumerHealth;
}

/** Subscribes a consumer to the router; returns the unsubscribe function. */
export function subscribeConsumer(router: MetricsRouter, consumer: MetricsConsumer): () => void {
  return router.subscribe({ name: consumer.name, accept: (e) => consumer.handleEvent(e) });
}
