// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The intake as a runtime component: one gRPC transport and one streamer per outbox channel.

import type { ChannelOptions } from "@grpc/grpc-js";
import type { Logger } from "../log/logger.ts";
import type { Component } from "../runtime/component.ts";
import type { BackoffOptions } from "../util/backoff.ts";
import { UploadHealth, type UploadHealthSnapshot } from "./health.ts";
import { ChannelStreamer, type SentRef, type StreamerStats, type UploadOutbox } from "./streamer.ts";
import { IntakeTransport } from "./transport.ts";
import { newDeltaVersion } from "./wire.ts";

export const CLUSTER_CHANNEL = "cluster";
export const INSTANCE_CHANNEL = "instance";

/** How to reach the intake: address, TLS and credentials (the `--intake-*` flags). */
export interface IntakeEndpoint {
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
}

export interface IntakeOptions extends IntakeEndpoint {
  /** --max-stream-age (default 10 min), ms. */
  maxStreamAge: number;
  /** --intake-ack-interval (default 2 s), ms. */
  ackInterval?: number;
  /** The store's outbox: what is uploaded is read from it, and confirmed in it once acknowledged. */
  outbox: UploadOutbox;
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
    /** Extra gRPC channel options (a shorter reconnect backoff in tests). */
    channelOptions?: ChannelOptions;
    deltaVersion?: string;
    channels?: string[];
    onDropped?: (entries: SentRef[], reason: string) => void;
  };
}

export interface IntakeComponent extends Component {
  readonly deltaVersion: string;
  stats(): StreamerStats[];
  /** Whether uploads currently fail, and the latest failure. */
  health(): UploadHealthSnapshot;
  /** A new API key or key file (a reloaded --config): used from the next stream open. */
  setApiKey(key: { apiKey?: string; apiKeyFile?: string }): void;
}

/**
 * The intake uploader: one streamer per outbox channel ("cluster" gated by leadership, "instance"
 * always) sharing one gRPC channel and one delta_version. Readiness does not depend on the backend.
 */
export function createIntakeComponent(opts: IntakeOptions): IntakeComponent {
  const log = opts.logger.child({ component: "intake" });
  const t = opts.tuning ?? {};
  const deltaVersion = t.deltaVersion ?? newDeltaVersion();
  const health = new UploadHealth(opts.address, log);
  let transport: IntakeTransport | undefined;
  let streamers: ChannelStreamer[] = [];
  let ready = false;
  return {
    name: "intake",
    required: true,
    deltaVersion,
    async start() {
      const shared = new IntakeTransport({
        address: opts.address,
        secure: opts.secure,
        caFile: opts.caFile,
        certFile: opts.certFile,
        keyFile: opts.keyFile,
        apiKey: opts.apiKey,
        apiKeyFile: opts.apiKeyFile,
        keepaliveTimeMs: t.keepaliveTimeMs,
        channelOptions: t.channelOptions,
        logger: log,
      });
      transport = shared;
      const channels = t.channels ?? [CLUSTER_CHANNEL, INSTANCE_CHANNEL];
      streamers = channels.map(
        (channel) =>
          new ChannelStreamer({
            channel,
            outbox: opts.outbox,
            transport: shared,
            deltaVersion,
            logger: log,
            health,
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
    health: () => health.snapshot(),
    setApiKey(key) {
      opts.apiKey = key.apiKey;
      opts.apiKeyFile = key.apiKeyFile;
      transport?.setApiKey(key);
    },
  };
}
