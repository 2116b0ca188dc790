// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The intake's /metrics families: what was sent and acknowledged, failures by code and reason,
// and the outbox depth and age read at scrape time.

import { Counter, Gauge } from "prom-client";
import { registry } from "../metrics/registry.ts";
import { type Outbox, StoreClosedError } from "../store/types.ts";

/**
 * Intake self-metrics on the shared registry. Families are created once per process; every live
 * streamer registers its outbox here so depth and oldest-entry age are read at scrape time.
 */
const sources = new Map<string, { outbox: Pick<Outbox, "stats">; channel: string }>();

/** Sets `set(channel, stats)` for every live source; a store closed during shutdown keeps the last value. */
function collectSources(set: (channel: string, stats: ReturnType<Outbox["stats"]>) => void): void {
  for (const { outbox, channel } of sources.values()) {
    try {
      set(channel, outbox.stats(channel));
    } catch (err) {
      if (!(err instanceof StoreClosedError)) throw err;
    }
  }
}

export const intakeMetrics = {
  outboxDepth: new Gauge({
    name: "antimetal_intake_outbox_depth",
    help: "Outbox entries waiting for an acknowledged upload, by channel.",
    labelNames: ["channel"] as const,
    registers: [registry],
    collect() {
      collectSources((channel, st) => this.set({ channel }, st.depth));
    },
  }),
  outboxBytes: new Gauge({
    name: "antimetal_intake_outbox_bytes",
    help: "Encoded bytes of the outbox entries waiting for upload, by channel.",
    labelNames: ["channel"] as const,
    registers: [registry],
    collect() {
      collectSources((channel, st) => this.set({ channel }, st.bytes));
    },
  }),
  outboxOldestAge: new Gauge({
    name: "antimetal_intake_outbox_oldest_age_seconds",
    help: "Age of the oldest outbox entry not yet acknowledged by the intake (0 when empty), by channel.",
    labelNames: ["channel"] as const,
    registers: [registry],
    collect() {
      collectSources((channel, st) => {
        const oldest = st.oldestEnqueuedAt;
        this.set({ channel }, oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
      });
    },
  }),
  bytesSent: new Counter({
    name: "antimetal_intake_sent_bytes_total",
    help: "DeltaRequest bytes written to intake streams (before acknowledgement), by channel.",
    labelNames: ["channel"] as const,
    registers: [registry],
  }),
  deltasSent: new Counter({
    name: "antimetal_intake_sent_deltas_total",
    help: "Deltas written to intake streams (before acknowledgement; includes resends), by channel.",
    labelNames: ["channel"] as const,
    registers: [registry],
  }),
  batchesSent: new Counter({
    name: "antimetal_intake_sent_batches_total",
    help: "DeltaRequest messages written to intake streams, by channel.",
    labelNames: ["channel"] as const,
    registers: [registry],
  }),
  batchesAcked: new Counter({
    name: "antimetal_intake_acked_batches_total",
    help: "DeltaRequest messages whose stream the intake acknowledged with OK, by channel.",
    labelNames: ["channel"] as const,
    registers: [registry],
  }),
  deltasAcked: new Counter({
    name: "antimetal_intake_acked_deltas_total",
    help: "Deltas acknowledged by the intake and removed from the outbox, by channel.",
    labelNames: ["channel"] as const,
    registers: [registry],
  }),
  streamsAcked: new Counter({
    name: "antimetal_intake_acked_streams_total",
    help: "Intake streams half-closed and acknowledged with OK, by channel.",
    labelNames: ["channel"] as const,
    registers: [registry],
  }),
  retries: new Counter({
    name: "antimetal_intake_retries_total",
    help: "Backoff waits before opening a new stream after a failure, by channel.",
    labelNames: ["channel"] as const,
    registers: [registry],
  }),
  streamResets: new Counter({
    name: "antimetal_intake_stream_resets_total",
    help: "Intake streams that ended without acknowledgement, by channel and gRPC status code name (WATCHDOG when the agent gave up waiting).",
    labelNames: ["channel", "code"] as const,
    registers: [registry],
  }),
  permanentErrors: new Counter({
    name: "antimetal_intake_permanent_errors_total",
    help: "Streams rejected with a permanent error (UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT), by channel and code.",
    labelNames: ["channel", "code"] as const,
    registers: [registry],
  }),
  dropped: new Counter({
    name: "antimetal_intake_dropped_total",
    help: "Outbox entries deliberately not delivered, by channel and reason (invalid_argument: the intake rejected the entry alone; too_large: over the message limit).",
    labelNames: ["channel", "reason"] as const,
    registers: [registry],
  }),
  resyncs: new Counter({
    name: "antimetal_intake_resyncs_total",
    help: "Acknowledged full-state uploads (startup, leadership gained, or no acknowledged heartbeat within the TTL), by channel.",
    labelNames: ["channel"] as const,
    registers: [registry],
  }),
  heartbeats: new Counter({
    name: "antimetal_intake_heartbeats_total",
    help: "Heartbeat deltas written, by channel.",
    labelNames: ["channel"] as const,
    registers: [registry],
  }),
  lastAck: new Gauge({
    name: "antimetal_intake_last_ack_timestamp_seconds",
    help: "Unix time of the last stream the intake acknowledged with OK, by channel.",
    labelNames: ["channel"] as const,
    registers: [registry],
  }),
  uploadFailing: new Gauge({
    name: "antimetal_intake_upload_failing",
    help: "1 while the latest intake stream failed, 0 once a stream is acknowledged.",
    registers: [registry],
  }),
  lastErrorInfo: new Gauge({
    name: "antimetal_intake_last_error_info",
    help: "Reason of the latest intake upload failure, as a label with value 1 (connection_refused, dns, tls, protocol, timeout, connection_failed, connection_reset, cancelled, unauthenticated, permission_denied, invalid_argument, resource_exhausted, watchdog, other).",
    labelNames: ["reason"] as const,
    registers: [registry],
  }),
  lastErrorTime: new Gauge({
    name: "antimetal_intake_last_error_timestamp_seconds",
    help: "Unix time of the latest intake upload failure.",
    registers: [registry],
  }),
  channelRecreations: new Counter({
    name: "antimetal_intake_channel_recreations_total",
    help: "gRPC channels torn down and recreated by the watchdog, by reason.",
    labelNames: ["reason"] as const,
    registers: [registry],
  }),
};

export function registerOutboxSource(id: string, outbox: Pick<Outbox, "stats">, channel: string): () => void {
  sources.set(id, { outbox, channel });
  return () => sources.delete(id);
}
