// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The upload loop of one outbox channel: decides when a stream runs (pending entries, heartbeat,
// resync), backs off after failures, and confirms what acknowledged streams carried.

import { status as Code } from "@grpc/grpc-js";
import type { Logger } from "../log/logger.ts";
import { Backoff, type BackoffOptions, DEFAULT_BACKOFF, PERMANENT_BACKOFF } from "../util/backoff.ts";
import { errorMessage } from "../util/errors.ts";
import { ChannelStats, type StreamerStats } from "./channel-stats.ts";
import { UploadHealth } from "./health.ts";
import { PoisonIsolation, type SentRef } from "./isolation.ts";
import { registerOutboxSource } from "./metrics.ts";
import {
  type DeltaTransport,
  type ReadCursor,
  type SessionContext,
  type SessionLimits,
  type StreamResult,
  StreamSession,
  type UploadOutbox,
} from "./session.ts";
import { Waker } from "./waker.ts";
import { encodeHeartbeat, objectSuffix } from "./wire.ts";

export type { StreamerStats } from "./channel-stats.ts";
export type { SentRef } from "./isolation.ts";
export type { DeltaCall, DeltaTransport, UploadOutbox } from "./session.ts";

export const PERMANENT_CODES: ReadonlySet<number> = new Set([Code.UNAUTHENTICATED, Code.PERMISSION_DENIED, Code.INVALID_ARGUMENT]);

export interface StreamerOptions extends Partial<SessionLimits> {
  /** Outbox channel: "cluster" or "instance". */
  channel: string;
  outbox: UploadOutbox;
  transport: DeltaTransport;
  /** One per process (8 lowercase hex chars). */
  deltaVersion: string;
  logger: Logger;
  /** Shared by the streamers of one intake address; a streamer alone gets its own. */
  health?: UploadHealth;
  /** The cluster channel uploads only while this returns true (Kubernetes leader). Checked between batches. */
  enabled?: () => boolean;
  /** TTL put on every object and heartbeat. Default 5 min. */
  ttlMs?: number;
  /** Full resync when no refresh was acknowledged for ttl - margin. Default ttl/10. */
  resyncMarginMs?: number;
  backoff?: BackoffOptions;
  permanentBackoff?: BackoffOptions;
  /** INVALID_ARGUMENT on a stream carrying this one entry alone, this many times in a row, drops it. Default 2. */
  dropAfterRejections?: number;
  /** Called with entries deliberately not delivered. */
  onDropped?: (entries: SentRef[], reason: string) => void;
}

/** Defaults: ack interval 2 s, stream age 10 min, 100 deltas / 2 MiB per request, objects up to 4 MiB - 64 KiB, heartbeat 60 s. */
const DEFAULT_LIMITS: SessionLimits = {
  ackIntervalMs: 2_000,
  maxStreamAgeMs: 600_000,
  batchSize: 100,
  batchMaxBytes: 2 << 20,
  maxObjectBytes: (4 << 20) - (64 << 10),
  heartbeatIntervalMs: 60_000,
  ackTimeoutMs: 30_000,
  maxUnackedEntries: 50_000,
  maxUnackedBytes: 64 << 20,
  idleEndMs: 200,
  lingerMs: 5,
};

/** The defaults, overridden by the limits the options set. */
function sessionLimits(opts: Partial<SessionLimits>): SessionLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const k of Object.keys(DEFAULT_LIMITS) as Array<keyof SessionLimits>) {
    const v = opts[k];
    if (v !== undefined) limits[k] = v;
  }
  return limits;
}

let nextId = 0;

/**
 * Uploads one outbox channel. One stream at a time: open, send batches read from the outbox,
 * half-close after the ack interval, await the DeltaResponse, and only then confirm (delete) the
 * entries that stream carried. A failed stream confirms nothing; its entries are read again for
 * the next stream. Duplicates are therefore bounded to one unacknowledged stream.
 */
export class ChannelStreamer {
  readonly channel: string;
  private readonly outbox: UploadOutbox;
  private readonly log: Logger;
  private readonly counts: ChannelStats;
  private readonly health: UploadHealth;
  private readonly session: SessionContext;
  private readonly ttlMs: number;
  private readonly resyncMarginMs: number;
  private readonly waker = new Waker();
  private readonly backoff: Backoff;
  private readonly permBackoff: Backoff;
  private readonly isolation: PoisonIsolation;
  private stopping = false;
  private running: Promise<void> | undefined;
  private current: StreamSession | undefined;
  private unlisten: (() => void) | undefined;
  private unregister: (() => void) | undefined;

  private readonly cursor: ReadCursor = { lastSentSeq: 0, coveredUpTo: 0 };
  private needResync = true;
  private wasEnabled = false;
  /** Send time of the newest heartbeat (or resync start) on an acknowledged stream. */
  private refreshedAt = Number.NEGATIVE_INFINITY;
  private resyncRejections = 0;
  /** Confirmation of acknowledged entries still running in the background. */
  private confirming: Promise<void> = Promise.resolve();

  constructor(private readonly opts: StreamerOptions) {
    const limits = sessionLimits(opts);
    this.channel = opts.channel;
    this.outbox = opts.outbox;
    this.ttlMs = opts.ttlMs ?? 300_000;
    this.resyncMarginMs = opts.resyncMarginMs ?? this.ttlMs / 10;
    this.log = opts.logger.child({ channel: opts.channel });
    this.counts = new ChannelStats(opts.channel);
    this.health = opts.health ?? new UploadHealth(`channel ${opts.channel}`, this.log);
    this.backoff = new Backoff(opts.backoff ?? DEFAULT_BACKOFF);
    this.permBackoff = new Backoff(opts.permanentBackoff ?? PERMANENT_BACKOFF);
    this.isolation = new PoisonIsolation(opts.dropAfterRejections ?? 2, limits.maxUnackedEntries);
    const suffix = objectSuffix(this.ttlMs, opts.deltaVersion);
    this.session = {
      channel: opts.channel,
      outbox: opts.outbox,
      transport: opts.transport,
      log: this.log,
      stats: this.counts,
      waker: this.waker,
      limits,
      suffix,
      heartbeatBytes: encodeHeartbeat(suffix),
      cursor: this.cursor,
      stopping: () => this.stopping,
      enabled: () => this.enabled(),
      drop: (entries, reason) => this.drop(entries, reason),
    };
  }

  stats(): StreamerStats {
    return this.counts.snapshot();
  }

  start(): void {
    if (this.running) return;
    this.unlisten = this.outbox.onAppend((ch) => {
      if (ch === this.channel) this.waker.wake();
    });
    this.unregister = registerOutboxSource(`${this.channel}#${nextId++}`, this.outbox, this.channel);
    this.running = this.loop().catch((err) => {
      this.log.error({ err: errorMessage(err) }, "intake streamer crashed");
    });
  }

  /** Finishes the current stream (awaiting its acknowledgement) unless `deadline` aborts first. */
  async stop(deadline: AbortSignal): Promise<void> {
    this.stopping = true;
    this.waker.wake();
    const onAbort = () => this.current?.cancel();
    deadline.addEventListener("abort", onAbort, { once: true });
    try {
      if (deadline.aborted) onAbort();
      await this.running;
      await this.confirming;
    } finally {
      deadline.removeEventListener("abort", onAbort);
      this.unlisten?.();
      this.unregister?.();
    }
  }

  private enabled(): boolean {
    return this.opts.enabled ? this.opts.enabled() : true;
  }

  private storeWantsResync(): boolean {
    try {
      return this.outbox.needsResync(this.channel);
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, "reading the outbox resync flag failed");
      return false;
    }
  }

  private hasPending(): boolean {
    return this.outbox.readRaw(this.channel, this.cursor.lastSentSeq, 1).length > 0;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.iteration();
      } catch (err) {
        // the store closed under us, a leadership callback threw, ...: never let the uploader die
        this.cursor.lastSentSeq = 0;
        this.counts.errored(errorMessage(err));
        this.log.error({ err: errorMessage(err) }, "intake streamer error; retrying");
        this.counts.retry();
        await this.sleepUninterrupted(this.backoff.next());
      }
    }
  }

  /** One pass: maybe wait, or run one stream and back off after a failure. */
  private async iteration(): Promise<void> {
    if (!this.enabled()) {
      this.wasEnabled = false;
      await this.waker.sleep(1_000);
      return;
    }
    if (!this.wasEnabled) {
      this.wasEnabled = true;
      this.needResync = true; // startup or leadership gained: the server holds nothing under this delta_version
    }
    const now = Date.now();
    if (!this.needResync && this.storeWantsResync()) {
      this.log.warn("the outbox dropped entries at its cap: full resync");
      this.needResync = true;
    }
    if (!this.needResync && now - this.refreshedAt > this.ttlMs - this.resyncMarginMs) {
      this.log.warn({ sinceRefreshMs: now - this.refreshedAt }, "no acknowledged heartbeat within the TTL: full resync");
      this.needResync = true;
    }
    // a heartbeat is due a minute after the last one the server acknowledged (a lost one is resent)
    const heartbeatIn = this.refreshedAt + this.session.limits.heartbeatIntervalMs - now;
    if (!this.needResync && heartbeatIn > 0 && !this.hasPending()) {
      await this.waker.sleep(heartbeatIn);
      return;
    }
    const resync = this.needResync;
    // re-reading from the start must not pick up entries that were acknowledged but not yet deleted
    if (this.cursor.lastSentSeq === 0) await this.confirming;
    const session = new StreamSession(this.session, resync, this.refreshedAt, this.isolation.limit);
    this.current = session;
    let res: StreamResult;
    try {
      res = await session.run();
    } finally {
      this.current = undefined;
    }
    if (res.outcome.ok) {
      this.onAck(res, resync);
      return;
    }
    this.onFailure(res, resync);
    if (this.stopping) return;
    const wait = PERMANENT_CODES.has(res.outcome.code) ? this.permBackoff.next() : this.backoff.next();
    this.counts.retry();
    this.log.debug({ waitMs: wait }, "intake backoff");
    await this.sleepUninterrupted(wait);
  }

  /** Backoff sleep that appends do not cut short (only stop does). */
  private async sleepUninterrupted(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.stopping && Date.now() < until) await this.waker.sleep(until - Date.now());
  }

  private onAck(res: StreamResult, resync: boolean): void {
    const now = Date.now();
    const { sent } = res;
    if (sent.length) this.confirming = this.confirming.then(() => this.confirmChunked(sent, res.readAfter));
    if (res.heartbeatAt !== undefined) this.refreshedAt = Math.max(this.refreshedAt, res.heartbeatAt);
    if (resync) this.refreshedAt = Math.max(this.refreshedAt, res.openedAt);
    this.counts.acknowledged(sent.length, res.batches, now);
    this.log.debug({ sent: sent.length }, "intake stream acknowledged");
    this.health.succeeded();
    this.backoff.reset();
    this.permBackoff.reset();
    if (resync) {
      this.needResync = false;
      this.resyncRejections = 0;
      this.counts.resynced();
      this.log.info({ objects: res.snapshotObjects }, "full state resync sent and acknowledged");
    }
    this.isolation.acknowledged(sent);
  }

  private onFailure(res: StreamResult, resync: boolean): void {
    const { outcome, sent } = res;
    if (outcome.ok) return;
    this.cursor.lastSentSeq = 0; // everything unconfirmed goes again on the next stream
    if (resync) this.cursor.coveredUpTo = 0; // the snapshot was not acknowledged
    const code = outcome.codeName;
    const permanent = outcome.code >= 0 && PERMANENT_CODES.has(outcome.code);
    this.counts.failed(code, outcome.details, permanent);
    const reason = this.health.failed(this.channel, outcome);
    if (permanent) {
      this.log.error(
        { code, details: outcome.details, entries: sent.length },
        code === "INVALID_ARGUMENT"
          ? "intake rejected the stream as invalid; isolating the offending entry"
          : "intake refused the agent's credentials; check the API key / client certificate. Retrying slowly",
      );
      if (outcome.code === Code.INVALID_ARGUMENT) this.onInvalid(sent, resync);
      return;
    }
    // the cause reaches warn through UploadHealth once per change; each retry only at debug
    this.log.debug({ code, reason, details: outcome.details }, "intake stream failed; resetting");
  }

  private onInvalid(sent: SentRef[], resync: boolean): void {
    if (!resync) {
      const poison = this.isolation.rejected(sent);
      if (poison) this.drop([poison], "invalid_argument");
      return;
    }
    // The poison may sit in the state snapshot, which is not an outbox entry and cannot be
    // confirmed away; after a few rejections give up the resync and let deltas isolate it.
    if (++this.resyncRejections < 3) return;
    this.log.error("full resync rejected 3 times as invalid; continuing with deltas only");
    this.counts.resyncAbandoned();
    this.needResync = false;
    this.refreshedAt = Date.now();
    this.resyncRejections = 0;
  }

  private drop(entries: SentRef[], reason: string): void {
    this.outbox.confirm(this.channel, entries);
    this.counts.dropped(reason, entries.length);
    this.log.error(
      { reason, keys: entries.slice(0, 10).map((e) => e.key), count: entries.length },
      "dropping outbox entries the intake will not accept",
    );
    this.opts.onDropped?.(entries, reason);
  }

  /**
   * Deletes acknowledged entries in chunks, yielding between them, so the next stream is already
   * sending (and the server working) while a large acknowledged set is removed. A crash before it
   * finishes re-sends those entries after restart: at-least-once either way. When the stream read
   * one contiguous range (`readAfter`), each chunk is the sub-range after the previous chunk's last
   * seq, which the outbox deletes by seq range.
   */
  private async confirmChunked(sent: SentRef[], readAfter: number | undefined): Promise<void> {
    const chunk = 2_000;
    let after = readAfter;
    for (let i = 0; i < sent.length; i += chunk) {
      const part = i === 0 && sent.length <= chunk ? sent : sent.slice(i, i + chunk);
      try {
        this.outbox.confirm(this.channel, part, after);
        if (after !== undefined) after = part[part.length - 1]!.seq;
      } catch (err) {
        this.log.error({ err: errorMessage(err) }, "outbox confirm failed; the entries will be sent again");
        return;
      }
      if (i + chunk < sent.length) await new Promise((r) => setImmediate(r));
    }
  }
}
