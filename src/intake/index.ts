// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import type { Logger } from "../log/logger.ts";
import type { Component } from "../runtime/component.ts";
import type { Store } from "../store/types.ts";
import type { BackoffOptions } from "../util/backoff.ts";
import { ChannelStreamer, type SentRef, type StreamerStats } from "./streamer.ts";
import { IntakeTransport } from "./transport.ts";
import { newDeltaVersion } from "./wire.ts";

export { ChannelStreamer, type SentRef, type StreamerStats } from "./streamer.ts";
export { IntakeTransport } from "./transport.ts";
export { newDeltaVersion } from "./wire.ts";

export const CLUSTER_CHANNEL = "cluster";
export const INSTANCE_CHANNEL = "instance";

export interface IntakeOptions {
  /** --intake-address (default intake.antimetal.com:443) */
  address: string;
  /** --intake-api-key / ANTIMETAL_INTAKE_API_KEY; never logged. */
  apiKey?: string;
  /** --intake-api-key-file: read at every stream open (rotation without restart). Wins over apiKey. */
  apiKeyFile?: string;
  /** --intake-secure (default true): TLS with system roots. */
  secure: boolean;
  /** --intake-ca-file: private CA bundle (PEM) instead of the system roots. */
  caFile?: string;
  /** --intake-client-cert / --intake-client-key: mTLS. */
  certFile?: string;
  keyFile?: string;
  /** --max-stream-age (default 10 min), ms. */
  maxStreamAge: number;
  /** --intake-ack-interval (default 2 s), ms. */
  ackInterval?: number;
  store: Store;
  logger: Logger;
  /** Cluster channel uploads only while true (Kubernetes leader). Default: always. */
  isLeader?: () => boolean;
  /** Tuning for tests; production uses the defaults. */
  tuning?: {
    ttlMs?: number;
    heartbeatIntervalMs?: number;
    ackTimeoutMs?: number;
    backoff?: BackoffOptions;
    permanentBackoff?: BackoffOptions;
    keepaliveTimeMs?: number;
    deltaVersion?: string;
    channels?: string[];
    onDropped?: (entries: SentRef[], reason: string) => void;
  };
}

export interface IntakeComponent extends Component {
  readonly deltaVersion: string;
  stats(): StreamerStats[];
}

/**
 * The intake uploader: one streamer per outbox channel ("cluster" gated by leadership, "instance"
 * always) sharing one gRPC channel and one delta_version. Readiness does not depend on the backend.
 */
export function createIntakeComponent(opts: IntakeOptions): IntakeComponent {
  const log = opts.logger.child({ component: "intake" });
  const t = opts.tuning ?? {};
  const deltaVersion = t.deltaVersion ?? newDeltaVersion();
  let transport: IntakeTransport | undefined;
  let streamers: ChannelStreamer[] = [];
  let ready = false;
  return {
    name: "intake",
    required: true,
    deltaVersion,
    async start() {
      transport = new IntakeTransport({
        address: opts.address,
        secure: opts.secure,
        caFile: opts.caFile,
        certFile: opts.certFile,
        keyFile: opts.keyFile,
        apiKey: opts.apiKey,
        apiKeyFile: opts.apiKeyFile,
        keepaliveTimeMs: t.keepaliveTimeMs,
        logger: log,
      });
      const channels = t.channels ?? [CLUSTER_CHANNEL, INSTANCE_CHANNEL];
      streamers = channels.map(
        (channel) =>
          new ChannelStreamer({
            channel,
            outbox: opts.store.outbox,
            transport: transport!,
            deltaVersion,
            logger: log,
            enabled: channel === CLUSTER_CHANNEL ? opts.isLeader : undefined,
            ackIntervalMs: opts.ackInterval,
            maxStreamAgeMs: opts.maxStreamAge,
            ttlMs: t.ttlMs,
            heartbeatIntervalMs: t.heartbeatIntervalMs,
            ackTimeoutMs: t.ackTimeoutMs,
            backoff: t.backoff,
            permanentBackoff: t.permanentBackoff,
            onDropped: t.onDropped,
          }),
      );
      for (const s of streamers) s.start();
      ready = true;
      log.info({ address: opts.address, secure: opts.secure, deltaVersion, mtls: !!opts.certFile }, "intake started");
    },
    async stop(deadline) {
      ready = false;
      await Promise.all(streamers.map((s) => s.stop(deadline)));
      transport?.close();
    },
    isReady: () => ready,
    stats: () => streamers.map((s) => s.stats()),
  };
}

export interface IntakeCheckResult {
  ok: boolean;
  /** gRPC status code name: OK, UNAUTHENTICATED, UNAVAILABLE (TLS, DNS, refused), DEADLINE_EXCEEDED, ... */
  code: string;
  details: string;
  ms: number;
}

/**
 * Connectivity check for `antimetal-agent check`: opens one Delta stream with the configured TLS and
 * key, sends nothing, half-closes, and reports the server's answer. Sends no data and no heartbeat,
 * so it changes nothing upstream. Never logs the key.
 */
export async function checkIntake(
  opts: Pick<IntakeOptions, "address" | "apiKey" | "apiKeyFile" | "secure" | "caFile" | "certFile" | "keyFile" | "logger"> & { timeoutMs?: number },
): Promise<IntakeCheckResult> {
  const t0 = performance.now();
  let transport: IntakeTransport | undefined;
  try {
    transport = new IntakeTransport({ ...opts, logger: opts.logger.child({ component: "intake-check" }) });
    const call = transport.open(Date.now() + (opts.timeoutMs ?? 10_000));
    call.end();
    const o = await call.done;
    return { ok: o.ok, code: o.ok ? "OK" : o.codeName, details: o.ok ? "" : o.details, ms: Math.round(performance.now() - t0) };
  } catch (err) {
    return { ok: false, code: "CONFIG", details: (err as Error).message, ms: Math.round(performance.now() - t0) };
  } finally {
    transport?.close();
  }
}
