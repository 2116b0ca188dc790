// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Whether uploads to the intake work: classifies failed streams into a bounded reason, logs the
// cause at warn once per change (not per retry), and exposes the last error in /metrics.

import { status as Code } from "@grpc/grpc-js";
import type { Logger } from "../log/logger.ts";
import { intakeMetrics as m } from "./metrics.ts";

/** A stream that ended without acknowledgement (code -1: the agent's own watchdog gave up). */
export interface FailedOutcome {
  code: number;
  codeName: string;
  details: string;
}

export const FAILURE_REASONS = [
  "connection_refused",
  "dns",
  "tls",
  "protocol",
  "timeout",
  "connection_failed",
  "connection_reset",
  "cancelled",
  "unauthenticated",
  "permission_denied",
  "invalid_argument",
  "resource_exhausted",
  "watchdog",
  "other",
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** Failures a healthy connection also sees now and then (a load balancer recycling it): warned about only when they repeat. */
const TRANSIENT: ReadonlySet<FailureReason> = new Set(["connection_reset", "cancelled"]);

/** Status codes that name the reason whatever the message says (-1: the stream's watchdog ended it). */
const REASON_OF_CODE: ReadonlyMap<number, FailureReason> = new Map<number, FailureReason>([
  [-1, "watchdog"],
  [Code.UNAUTHENTICATED, "unauthenticated"],
  [Code.PERMISSION_DENIED, "permission_denied"],
  [Code.INVALID_ARGUMENT, "invalid_argument"],
  [Code.RESOURCE_EXHAUSTED, "resource_exhausted"],
  [Code.DEADLINE_EXCEEDED, "timeout"],
  [Code.CANCELLED, "cancelled"],
]);

/** The bounded reason (a /metrics label) of a failed stream, from its status code and the transport's message. */
export function failureReason(outcome: FailedOutcome): FailureReason {
  const byCode = REASON_OF_CODE.get(outcome.code);
  if (byCode !== undefined) return byCode;
  const d = outcome.details;
  if (/ECONNREFUSED/.test(d)) return "connection_refused";
  if (/Name resolution failed|ENOTFOUND|EAI_AGAIN|DNS/.test(d)) return "dns";
  if (/certificate|CERT_|SSL|TLS|self[- ]signed|altname|ServerName|handshake/i.test(d)) return "tls";
  if (/Protocol error|RST_STREAM|frame|parse|Failed to deserialize|ERR_HTTP2/i.test(d)) return "protocol";
  if (/ETIMEDOUT|timed out|timeout/i.test(d)) return "timeout";
  if (outcome.code === Code.INTERNAL || outcome.code === Code.UNIMPLEMENTED) return "protocol";
  if (outcome.code === Code.UNAVAILABLE)
    return /No connection established|Failed to connect/.test(d) ? "connection_failed" : "connection_reset";
  return "other";
}

export interface UploadHealthSnapshot {
  failing: boolean;
  /** Latest failure, kept after recovery. */
  lastError: { reason: FailureReason; details: string; at: number } | undefined;
}

/**
 * One per intake address, shared by its channel streamers (they share the connection): a
 * connection refused on both channels is one state, logged once.
 */
export class UploadHealth {
  private reported: FailureReason | "ok" = "ok";
  private consecutiveFailures = 0;
  private lastError: UploadHealthSnapshot["lastError"];

  constructor(
    private readonly address: string,
    private readonly log: Logger,
  ) {}

  failed(channel: string, outcome: FailedOutcome): FailureReason {
    const reason = failureReason(outcome);
    const at = Date.now();
    this.consecutiveFailures++;
    this.lastError = { reason, details: outcome.details, at };
    m.uploadFailing.set(1);
    m.lastErrorInfo.reset();
    m.lastErrorInfo.set({ reason }, 1);
    m.lastErrorTime.set(at / 1000);
    // a poison entry is a data problem the isolation handles (and logs); the connection is fine
    if (reason === "invalid_argument" || reason === this.reported) return reason;
    if (TRANSIENT.has(reason) && this.consecutiveFailures < 2) return reason;
    this.reported = reason;
    this.log.warn(
      { address: this.address, channel, reason, code: outcome.codeName, cause: outcome.details },
      `intake upload failing (${reason}) to ${this.address}: ${outcome.details}; retrying with backoff`,
    );
    return reason;
  }

  succeeded(): void {
    this.consecutiveFailures = 0;
    m.uploadFailing.set(0);
    if (this.reported === "ok") return;
    this.log.info({ address: this.address, after: this.reported }, `intake upload to ${this.address} works again`);
    this.reported = "ok";
  }

  snapshot(): UploadHealthSnapshot {
    return { failing: this.consecutiveFailures > 0, lastError: this.lastError && { ...this.lastError } };
  }
}
