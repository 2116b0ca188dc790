// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Sends one OTLP request with retries: backoff (1 s doubling to 30 s, 90 s budget as the original) on
// retryable failures only; a permanent failure or an exhausted budget drops the batch and counts it;
// a partial success counts and logs the rejected points.

import { toBinary } from "@bufbuild/protobuf";
import type { Logger } from "../../log/logger.ts";
import {
  type ExportMetricsServiceRequest,
  ExportMetricsServiceRequestSchema,
} from "../../proto/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.ts";
import { Backoff } from "../../util/backoff.ts";
import { sleep } from "../../util/sleep.ts";
import { otlpBytes, otlpDropped, otlpPoints, otlpRejectedPoints, otlpRequests } from "../self-metrics.ts";
import type { OtlpConfig } from "./config.ts";
import type { OtlpTransport } from "./transport.ts";

export type ExportOutcome = "ok" | "permanent" | "retries_exhausted" | "stopped";

export interface ExportStats {
  requests: number;
  exportedPoints: number;
  rejectedPoints: number;
  droppedEvents: Record<Exclude<ExportOutcome, "ok">, number>;
  wireBytes: number;
  lastError: string;
}

export class OtlpExporter {
  readonly stats: ExportStats = {
    requests: 0,
    exportedPoints: 0,
    rejectedPoints: 0,
    droppedEvents: { permanent: 0, retries_exhausted: 0, stopped: 0 },
    wireBytes: 0,
    lastError: "",
  };
  private warnedDown = false;

  constructor(
    private readonly cfg: OtlpConfig,
    private readonly transport: OtlpTransport,
    private readonly logger: Logger,
  ) {}

  /**
   * Sends one request of `points` points made from `events` events, retrying as configured. After
   * `stop` aborts no retry is made (one attempt still is); `cancel` ends a request in flight.
   */
  async export(
    request: ExportMetricsServiceRequest,
    points: number,
    events: number,
    signals: { stop: AbortSignal; cancel: AbortSignal },
  ): Promise<ExportOutcome> {
    const { stop, cancel } = signals;
    const body = toBinary(ExportMetricsServiceRequestSchema, request);
    const backoff = new Backoff({
      initialMs: this.cfg.retry.initialMs,
      multiplier: this.cfg.retry.multiplier,
      maxMs: this.cfg.retry.maxMs,
      jitter: 0.2,
    });
    const started = Date.now();
    for (;;) {
      const r = await this.transport.send(body, cancel);
      this.stats.requests++;
      this.stats.wireBytes += r.wireBytes;
      otlpBytes.inc(r.wireBytes);
      if (r.ok) {
        otlpRequests.inc({ result: "ok" });
        const rejected = Number(r.response?.partialSuccess?.rejectedDataPoints ?? 0n);
        const message = r.response?.partialSuccess?.errorMessage ?? "";
        if (rejected > 0 || message !== "") {
          this.stats.rejectedPoints += rejected;
          otlpRejectedPoints.inc(rejected);
          this.logger.warn({ rejectedPoints: rejected, message }, "OTLP endpoint rejected part of an export");
        }
        this.stats.exportedPoints += points - rejected;
        otlpPoints.inc(points - rejected);
        if (this.warnedDown) this.logger.info("OTLP endpoint reachable again");
        this.warnedDown = false;
        return "ok";
      }
      this.stats.lastError = r.error ?? "unknown error";
      otlpRequests.inc({ result: r.retryable ? "retryable" : "permanent" });
      if (!r.retryable) return this.drop("permanent", events, r.error);
      if (stop.aborted || cancel.aborted) return this.drop("stopped", events, r.error);
      const wait = Math.max(r.retryAfterMs ?? 0, backoff.next());
      if (Date.now() - started + wait > this.cfg.retry.maxElapsedMs) return this.drop("retries_exhausted", events, r.error);
      if (!this.warnedDown) this.logger.warn({ err: r.error, retryInMs: wait }, "OTLP export failed; retrying");
      this.warnedDown = true;
      await sleep(wait, AbortSignal.any([stop, cancel]));
      if (stop.aborted || cancel.aborted) return this.drop("stopped", events, r.error);
    }
  }

  private drop(reason: Exclude<ExportOutcome, "ok">, events: number, error: string | undefined): ExportOutcome {
    this.stats.droppedEvents[reason] += events;
    otlpDropped.inc({ reason }, events);
    this.logger.warn({ reason, events, err: error }, "OTLP export given up; its events are dropped");
    return reason;
  }
}
