// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// One Delta stream of a channel: open, heartbeat, resync snapshot, batches read from the outbox,
// half-close, await the acknowledgement. What the stream carried is returned, not confirmed here.

import { status as Code } from "@grpc/grpc-js";
import type { Logger } from "../log/logger.ts";
import type { Outbox, OutboxRawEntry } from "../store/types.ts";
import { errorMessage } from "../util/errors.ts";
import type { ChannelStats } from "./channel-stats.ts";
import type { SentRef } from "./isolation.ts";
import type { CallOutcome } from "./transport.ts";
import type { Waker } from "./waker.ts";
import { encodeEntries } from "./wire.ts";

/** What the intake reads from the store's outbox: the raw (undecoded) reads only. */
export type UploadOutbox = Pick<
  Outbox,
  "readRaw" | "snapshotRaw" | "newestSeq" | "confirm" | "stats" | "onAppend" | "needsResync" | "clearResync"
>;

/** What a stream needs from a call (IntakeCall in transport.ts; fakes in unit tests). */
export interface DeltaCall {
  readonly done: Promise<CallOutcome>;
  readonly finished: CallOutcome | undefined;
  write(bytes: Uint8Array): boolean;
  waitDrain(timeoutMs: number): Promise<boolean>;
  end(): void;
  cancel(): void;
}

/** What a stream needs from the channel (IntakeTransport in transport.ts). */
export interface DeltaTransport {
  open(deadline: number): DeltaCall;
  recreate(reason: string): void;
}

export type StreamOutcome = CallOutcome | { ok: false; code: -1; codeName: "WATCHDOG"; details: string };

export interface StreamResult {
  outcome: StreamOutcome;
  /** Entries the stream carried (or covered by its resync snapshot), in seq order. */
  sent: SentRef[];
  /**
   * `sent` is every entry its reads returned with seq in (readAfter, last sent seq], the reads
   * contiguous (each starting at the previous one's last seq): the outbox may confirm that range.
   * Undefined when it is not (entries dropped as too large between them, or no read).
   */
  readAfter: number | undefined;
  batches: number;
  /** Objects in its resync snapshot (0 when it was not a resync). */
  snapshotObjects: number;
  /** Send time of its heartbeat, if it carried one. */
  heartbeatAt: number | undefined;
  openedAt: number;
}

export interface SessionLimits {
  ackIntervalMs: number;
  maxStreamAgeMs: number;
  batchSize: number;
  batchMaxBytes: number;
  maxObjectBytes: number;
  heartbeatIntervalMs: number;
  ackTimeoutMs: number;
  maxUnackedEntries: number;
  maxUnackedBytes: number;
  idleEndMs: number;
  lingerMs: number;
}

/** Where the channel's reading stands; owned by the streamer, advanced by its streams. */
export interface ReadCursor {
  /** Highest seq written on the current or last acknowledged stream; 0 re-reads from the start. */
  lastSentSeq: number;
  /** Pending non-delete entries up to this seq are in the last resync snapshot. */
  coveredUpTo: number;
}

export interface SessionContext {
  channel: string;
  outbox: UploadOutbox;
  transport: DeltaTransport;
  log: Logger;
  stats: ChannelStats;
  waker: Waker;
  limits: SessionLimits;
  /** Encoded ttl + delta_version appended to every object, and the heartbeat request. */
  suffix: Uint8Array;
  heartbeatBytes: Uint8Array;
  cursor: ReadCursor;
  /** True once the streamer is stopping. */
  stopping(): boolean;
  /** False while the channel may not upload (not the Kubernetes leader). */
  enabled(): boolean;
  drop(entries: SentRef[], reason: string): void;
}

export const ref = (e: OutboxRawEntry): SentRef => ({ key: e.key, seq: e.seq, op: e.op, bytes: e.bytes });

/** One stream. `run()` once; `cancel()` from stop() when its deadline passes. */
export class StreamSession {
  private call: DeltaCall | undefined;
  private readonly sent: SentRef[] = [];
  private sentBytes = 0;
  private batches = 0;
  private wroteSomething = false;
  private heartbeatAt: number | undefined;
  private openedAt = 0;
  private snapshotObjects = 0;
  /** afterSeq of the stream's first outbox read; undefined until then, or once the reads stop being one contiguous range. */
  private readAfter: number | undefined;
  /** Last seq of the previous read; a read from anywhere else ends the contiguous range. */
  private readUpTo: number | undefined;
  private contiguous = true;

  constructor(
    private readonly ctx: SessionContext,
    private readonly resync: boolean,
    /** Last refresh (heartbeat or resync) the server acknowledged. */
    private readonly refreshedAt: number,
    /** At most this many entries (poison isolation), if set. */
    private readonly entryLimit: number | undefined,
  ) {}

  cancel(): void {
    this.call?.cancel();
  }

  async run(): Promise<StreamResult> {
    const { transport, limits } = this.ctx;
    this.openedAt = Date.now();
    let call: DeltaCall;
    try {
      call = transport.open(this.openedAt + limits.maxStreamAgeMs);
    } catch (err) {
      return this.result({
        ok: false,
        code: Code.UNAVAILABLE,
        codeName: "UNAVAILABLE",
        details: `opening the intake stream: ${errorMessage(err)}`,
      });
    }
    this.call = call;
    try {
      if (this.resync || Date.now() - this.refreshedAt >= limits.heartbeatIntervalMs) {
        this.heartbeatAt = Date.now();
        this.ctx.stats.heartbeat();
        if (!(await this.write(call, this.ctx.heartbeatBytes, 1))) return this.watchdog(call, "drain_timeout");
      }
      if (this.resync && !(await this.sendSnapshot(call))) return this.watchdog(call, "drain_timeout");
      if (!(await this.sendPending(call))) return this.watchdog(call, "drain_timeout");
      if (!call.finished) call.end();
      const outcome = await Promise.race([call.done, new Promise<undefined>((r) => setTimeout(r, limits.ackTimeoutMs).unref?.())]);
      if (outcome === undefined) return this.watchdog(call, "ack_timeout");
      return this.result(outcome);
    } catch (err) {
      if (!call.finished) call.cancel();
      throw err;
    }
  }

  private result(outcome: StreamOutcome): StreamResult {
    return {
      outcome,
      sent: this.sent,
      readAfter: this.contiguous ? this.readAfter : undefined,
      batches: this.batches,
      snapshotObjects: this.snapshotObjects,
      heartbeatAt: this.heartbeatAt,
      openedAt: this.openedAt,
    };
  }

  /** False when the call stayed full (no drain) past the ack timeout. */
  private async write(call: DeltaCall, bytes: Uint8Array, deltas: number): Promise<boolean> {
    const more = call.write(bytes);
    this.wroteSomething = true;
    this.batches++;
    this.ctx.stats.wrote(bytes.length, deltas);
    if (!more && !call.finished) return call.waitDrain(this.ctx.limits.ackTimeoutMs);
    return true;
  }

  private watchdog(call: DeltaCall, what: string): StreamResult {
    this.ctx.stats.watchdogReset();
    this.ctx.log.warn({ what, timeoutMs: this.ctx.limits.ackTimeoutMs }, "intake stream stalled; cancelling and recreating the channel");
    call.cancel();
    this.ctx.transport.recreate(what);
    return this.result({ ok: false, code: -1, codeName: "WATCHDOG", details: what });
  }

  /** The channel's whole state as CREATE deltas. False on a drain timeout. */
  private async sendSnapshot(call: DeltaCall): Promise<boolean> {
    const { outbox, channel, cursor, limits } = this.ctx;
    cursor.lastSentSeq = 0;
    // Pending creates/updates committed before the snapshot starts are in it: once the snapshot
    // is acknowledged they are confirmed without being sent twice. Deletes are not in it and go.
    cursor.coveredUpTo = outbox.newestSeq(channel);
    // Cleared before the snapshot is read: a cap drop from here on sets it again and causes
    // another resync. If this one fails, needResync stays set in memory, and a restart always
    // resyncs, so clearing early loses nothing.
    if (this.storeWantsResync()) outbox.clearResync(channel);
    for (const page of outbox.snapshotRaw(channel, limits.batchSize)) {
      if (call.finished || this.ctx.stopping()) break;
      const fits = page.filter((e) => e.bytes <= limits.maxObjectBytes);
      if (fits.length === 0) continue;
      this.snapshotObjects += fits.length;
      if (!(await this.write(call, encodeEntries(fits, this.ctx.suffix, "CREATE").bytes, fits.length))) return false;
    }
    // logged at info once acknowledged (streamer.ts): written to a failing stream means nothing yet
    this.ctx.log.debug({ objects: this.snapshotObjects }, "full state resync written");
    return true;
  }

  private storeWantsResync(): boolean {
    try {
      return this.ctx.outbox.needsResync(this.ctx.channel);
    } catch (err) {
      this.ctx.log.debug({ err: errorMessage(err) }, "reading the outbox resync flag failed");
      return false;
    }
  }

  /** Pending entries until the ack interval, a bound, or idleness ends the stream. False on a drain timeout. */
  private async sendPending(call: DeltaCall): Promise<boolean> {
    const { outbox, channel, cursor, limits } = this.ctx;
    const ackDeadline = this.openedAt + Math.min(limits.ackIntervalMs, limits.maxStreamAgeMs);
    let lingered = false;
    let idleSince: number | undefined;
    while (!call.finished && !this.ctx.stopping() && this.ctx.enabled()) {
      const now = Date.now();
      if (now >= ackDeadline && this.wroteSomething) break;
      if (this.sent.length >= limits.maxUnackedEntries || this.sentBytes >= limits.maxUnackedBytes) break;
      let limit = limits.batchSize;
      if (this.entryLimit !== undefined) {
        const left = this.entryLimit - this.sent.length;
        if (left <= 0) break;
        limit = Math.min(limit, left);
      }
      const entries = outbox.readRaw(channel, cursor.lastSentSeq, limit, limits.batchMaxBytes);
      if (entries.length === 0) {
        // opened for nothing (pending entries were confirmed meanwhile): close it empty
        if (!this.wroteSomething) break;
        if (this.sent.length === 0) break; // heartbeat/resync only: nothing more to wait for
        if (idleSince === undefined) idleSince = now;
        else if (now - idleSince >= limits.idleEndMs) break;
        await this.ctx.waker.sleep(Math.min(ackDeadline - now, idleSince + limits.idleEndMs - now));
        continue;
      }
      if (entries.length < limit && !lingered && limits.lingerMs > 0 && now + limits.lingerMs < ackDeadline) {
        lingered = true;
        await this.ctx.waker.sleep(limits.lingerMs);
        continue;
      }
      lingered = false;
      idleSince = undefined;
      const tooLarge = entries.filter((e) => e.bytes > limits.maxObjectBytes);
      const batch = tooLarge.length ? entries.filter((e) => e.bytes <= limits.maxObjectBytes) : entries;
      if (tooLarge.length) this.ctx.drop(tooLarge.map(ref), "too_large");
      this.noteRead(cursor.lastSentSeq, entries[entries.length - 1]!.seq, tooLarge.length === 0);
      cursor.lastSentSeq = entries[entries.length - 1]!.seq;
      const toSend = this.skipCovered(batch);
      // every entry of the batch is sent or covered by the acknowledged snapshot: all confirmed with this stream, in seq order
      for (const e of batch) this.sent.push(ref(e));
      if (toSend.length === 0) continue;
      const enc = encodeEntries(toSend, this.ctx.suffix);
      for (const e of toSend) this.sentBytes += e.bytes;
      if (!(await this.write(call, enc.bytes, enc.deltas))) return false;
    }
    return true;
  }

  /** A read of (after, upTo] whose entries all go into `sent` (whole) or not: keeps `readAfter` valid only for one contiguous range. */
  private noteRead(after: number, upTo: number, whole: boolean): void {
    if (this.readUpTo === undefined) this.readAfter = after;
    else if (after !== this.readUpTo) this.contiguous = false;
    if (!whole) this.contiguous = false;
    this.readUpTo = upTo;
  }

  /** The entries of `batch` to send: those the acknowledged snapshot already carried are confirmed with this stream, not resent. */
  private skipCovered(batch: OutboxRawEntry[]): OutboxRawEntry[] {
    const coveredUpTo = this.ctx.cursor.coveredUpTo;
    if (coveredUpTo === 0 || batch[0]!.seq > coveredUpTo) return batch;
    return batch.filter((e) => !(e.seq <= coveredUpTo && e.op !== "DELETE"));
  }
}
