// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Prometheus self-metrics of the metrics consumers: events received, export requests by result,
// points exported and rejected, batches dropped by reason, bytes sent.

import { Counter } from "prom-client";
import { registry } from "../metrics/registry.ts";

export const consumerEvents = new Counter({
  name: "antimetal_consumer_events_total",
  help: "Metric events a consumer accepted into its buffer.",
  labelNames: ["consumer"] as const,
  registers: [registry],
});

export const consumerErrors = new Counter({
  name: "antimetal_consumer_errors_total",
  help: "Metric events a consumer failed to handle (encoding, formatting).",
  labelNames: ["consumer"] as const,
  registers: [registry],
});

export const otlpRequests = new Counter({
  name: "antimetal_otlp_export_requests_total",
  help: "OTLP export requests by result: ok, retryable (sent again after a backoff) or permanent.",
  labelNames: ["result"] as const,
  registers: [registry],
});

export const otlpPoints = new Counter({
  name: "antimetal_otlp_exported_points_total",
  help: "Data points the OTLP endpoint accepted.",
  registers: [registry],
});

export const otlpRejectedPoints = new Counter({
  name: "antimetal_otlp_rejected_points_total",
  help: "Data points the OTLP endpoint rejected in a partial success.",
  registers: [registry],
});

export const otlpDropped = new Counter({
  name: "antimetal_otlp_dropped_events_total",
  help: "Metric events whose export was given up, by reason: permanent (refused), retries_exhausted, stopped (shutdown).",
  labelNames: ["reason"] as const,
  registers: [registry],
});

export const otlpBytes = new Counter({
  name: "antimetal_otlp_sent_bytes_total",
  help: "Bytes of OTLP request bodies sent (HTTP: after gzip; gRPC: before grpc-js compresses them).",
  registers: [registry],
});
