// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// `antimetal-agent check`'s intake probe: one empty Delta stream to the configured intake,
// time-boxed, reporting what happened without sending data.

import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../util/errors.ts";
import type { IntakeEndpoint } from "./component.ts";
import { type FailureReason, failureReason } from "./health.ts";
import { IntakeTransport } from "./transport.ts";

export interface IntakeCheckResult {
  ok: boolean;
  /** gRPC status code name: OK, UNAUTHENTICATED, UNAVAILABLE (TLS, DNS, refused), DEADLINE_EXCEEDED, ...; CONFIG when the options are unusable. */
  code: string;
  /** The failure's bounded reason, as in antimetal_intake_last_error_info (absent when ok or CONFIG). */
  reason?: FailureReason;
  details: string;
  ms: number;
}

/**
 * Connectivity check for `antimetal-agent check`: opens one Delta stream with the configured TLS and
 * key, sends nothing, half-closes, and reports the server's answer. Sends no data and no heartbeat,
 * so it changes nothing upstream. Never logs the key.
 */
export async function checkIntake(opts: IntakeEndpoint & { logger: Logger; timeoutMs?: number }): Promise<IntakeCheckResult> {
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  let transport: IntakeTransport | undefined;
  try {
    transport = new IntakeTransport({ ...opts, logger: opts.logger.child({ component: "intake-check" }) });
    const call = transport.open(Date.now() + (opts.timeoutMs ?? 10_000));
    call.end();
    const o = await call.done;
    if (o.ok) return { ok: true, code: "OK", details: "", ms: ms() };
    return { ok: false, code: o.codeName, reason: failureReason(o), details: o.details, ms: ms() };
  } catch (err) {
    return { ok: false, code: "CONFIG", details: errorMessage(err), ms: ms() };
  } finally {
    transport?.close();
  }
}
