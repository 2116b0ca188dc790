// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import { status as Code } from "@grpc/grpc-js";
import type { Logger } from "../log/logger.ts";
import type { Outbox, OutboxEntry, OutboxRawEntry } from "../store/types.ts";

/** What a stream remembers of each entry it carried: enough to confirm (or drop) it, not the object. */
export type SentRef = Pick<OutboxEntry, "key" | "seq" | "op" | "bytes">;
const ref = (e: OutboxEntry | OutboxRawEntry): SentRef => ({ key: e.key, seq: e.seq, op: e.op, bytes: e.bytes });
import { Backoff, DEFAULT_BACKOFF, PERMANENT_BACKOFF, type BackoffOptions } from "../util/backoff.ts";
import { intakeMetrics as m, registerOutboxSource } from "./metrics.ts";
import type { CallOutcome } from "./transport.ts";

/** What the streamer needs from a call (IntakeCall in transport.ts; fakes in unit tests). */
export interface DeltaCall {
  readonly done: Promise<CallOutcome>;
  readonly finished: CallOutcome | undefined;
  write(bytes: Uint8Array): boolean;
  waitDrain(timeoutMs: number): Promise<boolean>;
  end(): void;
  cancel(): void;
}

/** What the streamer needs from the channel (IntakeTransport in transport.ts). */
export interface DeltaTransport {
  open(deadline: number): DeltaCall;
  recreate(reason: string): void;
}
import { encodeEntries, encodeHeartbeat, objectSuffix } from "./wire.ts";

export const PERMANENT_CODES: ReadonlySet<number> = new Set([Code.UNAUTHENTICATED, Code.PERMISSION_DENIED, Code.INVALID_ARGUMENT]);

export interface StreamerOptions {
  /** Outbox channel: "cluster" or "instance". */
  channel: string;
  outbox: Outbox;
  transport: DeltaTransport;
  /** One per process (8 lowercase hex chars). */
  deltaVersion: string;
  logger: Logger;
  /** The cluster channel uploads only while this returns true (Kubernetes leader). Checked between batches. */
  enabled?: () => boolean;
  /** A stream is half-closed and its acknowledgement awaited after this long. Default 2 s. */
  ackIntervalMs?: number;
  /** Hard cap on a stream's life (call deadline), as --max-stream-age. Default 10 min. */
  maxStreamAgeMs?: number;
  /** Deltas per DeltaRequest. Default 100, as the original. */
  batchSize?: number;
  /** Approximate bytes per DeltaRequest. Default 2 MiB (servers refuse > 4 MiB by default). */
  batchMaxBytes?: number;
  /** An entry whose object is larger than this is dropped (reason too_large). Default 4 MiB - 64 KiB. */
  maxObjectBytes?: number;
  /** Default 60 s. */
  heartbeatIntervalMs?: number;
  /** TTL put on every object and heartbeat. Default 5 min. */
  ttlMs?: number;
  /** Full resync when no refresh was acknowledged for ttl - margin. Default ttl/10. */
  resyncMarginMs?: number;
  /** Watchdog: no drain or acknowledgement for this long cancels the call and recreates the channel. Default 30 s. */
  ackTimeoutMs?: number;
  /** Bounds one stream's unacknowledged set (and so the duplicate window). */
  maxUnackedEntries?: number;
  maxUnackedBytes?: number;
  /** Half-close early once the outbox has been empty this long (quick confirmation when idle). Default 200 ms. */
  idleEndMs?: number;
  /** Wait this long for more entries before sending a partial batch. Default 5 ms. */
  lingerMs?: number;
  backoff?: BackoffOptions;
  permanentBackoff?: BackoffOptions;
  /** INVALID_ARGUMENT on a stream carrying this one entry alone, this many times in a row, drops it. Default 2. */
  dropAfterRejections?: number;
  /** Called with entries deliberately not delivered. */
  onDropped?: (entries: SentRef[], reason: string) => void;
}

export interface StreamerStats {
  channel: string;
  streamsAcked: number;
  streamsFailed: number;
  deltasAcked: number;
  deltasSent: number;
  bytesSent: number;
  heartbeats: number;
  resyncs: number;
  dropped: number;
  watchdogResets: number;
  lastAckAt: number | undefined;
  lastError: string | undefined;
  resetsByCode: Record<string, number>;
}

interface StreamResult {
  outcome: CallOutcome | { ok: false; code: -1; codeName: "WATCHDOG"; details: string };
  sent: SentRef[];
}

/** Sleeps until the timeout or a wake(); never rejects. */
class Waker {
  private pending: (() => void) | undefined;
  private signalled = false;
  wake(): void {
    this.signalled = true;
    const p = this.pending;
    this.pending = undefined;
    p?.();
  }
  sleep(ms: number): Promise<void> {
    if (this.signalled) {
      this.signalled = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.pending = undefined;
        resolve();
      }, Math.max(0, ms));
      this.pending = () => {
        clearTimeout(t);
        this.signalled = false;
        resolve();
      };
    });
  }
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
  private readonly o: Required<Omit<StreamerOptions, "onDropped" | "enabled">> & Pick<StreamerOptions, "onDropped" | "enabled">;
  private readonly log: Logger;
  private readonly suffix: Uint8Array;
  private readonly heartbeatBytes: Uint8Array;
  private readonly waker = new Waker();
  private readonly backoff: Backoff;
  private readonly permBackoff: Backoff;
  private stopping = false;
  private running: Promise<void> | undefined;
  private current: DeltaCall | undefined;
  private unlisten: (() => void) | undefined;
  private unregister: (() => void) | undefined;

  /** Highest seq written on the current or last acknowledged stream; reset to 0 after a failure. */
  private lastSentSeq = 0;
  private needResync = true;
  private wasEnabled = false;
  /** Send time of the newest heartbeat (or resync start) on an acknowledged stream. */
  private refreshedAt = Number.NEGATIVE_INFINITY;
  private resyncRejections = 0;
  /** Confirmation of acknowledged entries still running in the background. */
  private confirming: Promise<void> = Promise.resolve();
  /** Pending non-delete entries up to this seq are in the last resync snapshot. */
  private coveredUpTo = 0;
  /** Poison isolation after INVALID_ARGUMENT: at most `limit` entries per stream until `untilSeq` is confirmed. */
  private isolate: { limit: number; untilSeq: number; lastKey?: string; lastSeq?: number; strikes: number } | undefined;

  private readonly s: StreamerStats;

  constructor(opts: StreamerOptions) {
    const ttlMs = opts.ttlMs ?? 300_000;
    this.o = {
      ackIntervalMs: 2_000,
      maxStreamAgeMs: 600_000,
      batchSize: 100,
      batchMaxBytes: 2 << 20,
      maxObjectBytes: (4 << 20) - (64 << 10),
      heartbeatIntervalMs: 60_000,
      ttlMs,
      resyncMarginMs: ttlMs / 10,
      ackTimeoutMs: 30_000,
      maxUnackedEntries: 50_000,
      maxUnackedBytes: 64 << 20,
      lingerMs: 5,
      idleEndMs: 200,
      backoff: DEFAULT_BACKOFF,
      permanentBackoff: PERMANENT_BACKOFF,
      dropAfterRejections: 2,
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    } as ChannelStreamer["o"];
    this.channel = opts.channel;
    this.log = opts.logger.child({ channel: opts.channel });
    this.suffix = objectSuffix(ttlMs, opts.deltaVersion);
    this.heartbeatBytes = encodeHeartbeat(this.suffix);
    this.backoff = new Backoff(this.o.backoff);
    this.permBackoff = new Backoff(this.o.permanentBackoff);
    this.s = {
      channel: opts.channel,
      streamsAcked: 0,
      streamsFailed: 0,
      deltasAcked: 0,
      deltasSent: 0,
      bytesSent: 0,
      heartbeats: 0,
      resyncs: 0,
      dropped: 0,
      watchdogResets: 0,
      lastAckAt: undefined,
      lastError: undefined,
      resetsByCode: {},
    };
  }

  stats(): StreamerStats {
    return { ...this.s, resetsByCode: { ...this.s.resetsByCode } };
  }

  start(): void {
    if (this.running) return;
    this.unlisten = this.o.outbox.onAppend((ch) => {
      if (ch === this.channel) this.waker.wake();
    });
    this.unregister = registerOutboxSource(`${this.channel}#${nextId++}`, this.o.outbox, this.channel);
    this.running = this.loop().catch((err) => {
      this.log.error({ err }, "intake streamer crashed");
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
    return this.o.enabled ? this.o.enabled() : true;
  }

  /**
   * Pending entries after `afterSeq`: the outbox's raw read when it has one (stored bytes, spliced
   * into the request by encodeEntries without decoding), else the decoded read.
   */
  private readPending(afterSeq: number, limit: number, maxBytes?: number): ReadonlyArray<OutboxEntry | OutboxRawEntry> {
    const ob = this.o.outbox;
    return ob.readRaw ? ob.readRaw(this.channel, afterSeq, limit, maxBytes) : ob.read(this.channel, afterSeq, limit, maxBytes);
  }

  /** Highest pending seq of the channel (0 when empty), by binary search on read(after, 1). */
  private maxPendingSeq(): number {
    const has = (after: number) => this.readPending(after, 1).length > 0;
    if (!has(0)) return 0;
    let lo = 0;
    let hi = 1;
    while (has(hi)) {
      lo = hi;
      hi *= 2;
    }
    // has(lo) true (or lo = 0), has(hi) false: the max seq is in (lo, hi]
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (has(mid)) lo = mid;
      else hi = mid;
    }
    return hi;
  }

  private storeWantsResync(): boolean {
    try {
      return this.o.outbox.needsResync(this.channel);
    } catch {
      return false;
    }
  }

  private hasPending(): boolean {
    return this.readPending(this.lastSentSeq, 1).length > 0;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.iteration();
      } catch (err) {
        // the store closed under us, a leadership callback threw, ...: never let the uploader die
        this.lastSentSeq = 0;
        this.s.lastError = String((err as Error)?.message ?? err);
        this.log.error({ err: this.s.lastError }, "intake streamer error; retrying");
        m.retries.inc({ channel: this.channel });
        await this.sleepUninterrupted(this.backoff.next());
      }
    }
  }

  /** One pass: maybe wait, or run one stream and back off after a failure. */
  private async iteration(): Promise<void> {
    {
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
      if (!this.needResync && now - this.refreshedAt > this.o.ttlMs - this.o.resyncMarginMs) {
        this.log.warn({ sinceRefreshMs: now - this.refreshedAt }, "no acknowledged heartbeat within the TTL: full resync");
        this.needResync = true;
      }
      // a heartbeat is due a minute after the last one the server acknowledged (a lost one is resent)
      const heartbeatIn = this.refreshedAt + this.o.heartbeatIntervalMs - now;
      if (!this.needResync && heartbeatIn > 0 && !this.hasPending()) {
        await this.waker.sleep(heartbeatIn);
        return;
      }
      const resync = this.needResync;
      const res = await this.runStream(resync);
      if (this.handleResult(res, resync)) return;
      if (this.stopping) return;
      const permanent = !res.outcome.ok && PERMANENT_CODES.has(res.outcome.code);
      const wait = permanent ? this.permBackoff.next() : this.backoff.next();
      m.retries.inc({ channel: this.channel });
      this.log.debug({ waitMs: wait }, "intake backoff");
      await this.sleepUninterrupted(wait);
    }
  }

  /** Backoff sleep that appends do not cut short (only stop does). */
  private async sleepUninterrupted(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.stopping && Date.now() < until) await this.waker.sleep(until - Date.now());
  }

  /** Returns true when the stream was acknowledged. */
  private handleResult(res: StreamResult, resync: boolean): boolean {
    const { outcome, sent } = res;
    if (outcome.ok) {
      this.backoff.reset();
      this.permBackoff.reset();
      if (resync) {
        this.needResync = false;
        this.resyncRejections = 0;
        this.s.resyncs++;
        m.resyncs.inc({ channel: this.channel });
      }
      if (this.isolate) {
        const last = sent.at(-1);
        if (last && last.seq >= this.isolate.untilSeq) this.isolate = undefined;
        else this.isolate.limit = Math.min(this.isolate.limit * 2, this.o.maxUnackedEntries);
      }
      return true;
    }
    this.lastSentSeq = 0; // everything unconfirmed goes again on the next stream
    if (resync) this.coveredUpTo = 0; // the snapshot was not acknowledged
    const code = outcome.codeName;
    this.s.streamsFailed++;
    this.s.resetsByCode[code] = (this.s.resetsByCode[code] ?? 0) + 1;
    this.s.lastError = `${code}: ${outcome.details}`;
    m.streamResets.inc({ channel: this.channel, code });
    if (outcome.code >= 0 && PERMANENT_CODES.has(outcome.code)) {
      m.permanentErrors.inc({ channel: this.channel, code });
      this.log.error(
        { code, details: outcome.details, entries: sent.length },
        code === "INVALID_ARGUMENT"
          ? "intake rejected the stream as invalid; isolating the offending entry"
          : "intake refused the agent's credentials; check the API key / client certificate. Retrying slowly",
      );
      if (outcome.code === Code.INVALID_ARGUMENT) this.onInvalid(sent, resync);
    } else if (outcome.code === Code.UNAVAILABLE || outcome.code === Code.CANCELLED || outcome.code === Code.DEADLINE_EXCEEDED) {
      this.log.debug({ code, details: outcome.details }, "resetting intake stream");
    } else {
      this.log.warn({ code, details: outcome.details }, "intake stream failed");
    }
    return false;
  }

  private onInvalid(sent: SentRef[], resync: boolean): void {
    if (resync) {
      // The poison may sit in the state snapshot, which is not an outbox entry and cannot be
      // confirmed away; after a few rejections give up the resync and let deltas isolate it.
      if (++this.resyncRejections >= 3) {
        this.log.error("full resync rejected 3 times as invalid; continuing with deltas only");
        m.dropped.inc({ channel: this.channel, reason: "resync_rejected" });
        this.needResync = false;
        this.refreshedAt = Date.now();
        this.resyncRejections = 0;
      }
      return;
    }
    if (sent.length === 0) return;
    const maxSeq = sent.reduce((a, e) => Math.max(a, e.seq), 0);
    if (sent.length === 1) {
      const e = sent[0]!;
      const iso = this.isolate ?? { limit: 1, untilSeq: maxSeq, strikes: 0 };
      iso.strikes = iso.lastKey === e.key && iso.lastSeq === e.seq ? iso.strikes + 1 : 1;
      iso.lastKey = e.key;
      iso.lastSeq = e.seq;
      iso.limit = 1;
      this.isolate = iso;
      if (iso.strikes >= this.o.dropAfterRejections) {
        this.drop([e], "invalid_argument");
        iso.strikes = 0;
        iso.lastKey = undefined;
        iso.limit = 2;
      }
      return;
    }
    const untilSeq = Math.max(this.isolate?.untilSeq ?? 0, maxSeq);
    this.isolate = { limit: Math.max(1, Math.ceil(sent.length / 2)), untilSeq, strikes: 0 };
  }

  private drop(entries: SentRef[], reason: string): void {
    this.o.outbox.confirm(this.channel, entries);
    this.s.dropped += entries.length;
    m.dropped.inc({ channel: this.channel, reason }, entries.length);
    this.log.error({ reason, keys: entries.slice(0, 10).map((e) => e.key), count: entries.length }, "dropping outbox entries the intake will not accept");
    this.o.onDropped?.(entries, reason);
  }

  private async runStream(resync: boolean): Promise<StreamResult> {
    const o = this.o;
    // re-reading from the start must not pick up entries that were acknowledged but not yet deleted
    if (this.lastSentSeq === 0) await this.confirming;
    const opened = Date.now();
    let call: DeltaCall;
    try {
      call = o.transport.open(opened + o.maxStreamAgeMs);
    } catch (err) {
      return { outcome: { ok: false, code: Code.UNAVAILABLE, codeName: "UNAVAILABLE", details: (err as Error).message }, sent: [] };
    }
    this.current = call;
    const sent: SentRef[] = [];
    let sentBytes = 0;
    let heartbeatAt: number | undefined;
    let wroteSomething = false;
    let batches = 0;
    const ackDeadline = opened + Math.min(o.ackIntervalMs, o.maxStreamAgeMs);

    const write = async (bytes: Uint8Array, deltas: number): Promise<boolean> => {
      const more = call.write(bytes);
      wroteSomething = true;
      batches++;
      this.s.bytesSent += bytes.length;
      this.s.deltasSent += deltas;
      m.bytesSent.inc({ channel: this.channel }, bytes.length);
      m.deltasSent.inc({ channel: this.channel }, deltas);
      m.batchesSent.inc({ channel: this.channel });
      if (!more && !call.finished) {
        if (!(await call.waitDrain(o.ackTimeoutMs))) return false;
      }
      return true;
    };
    const watchdog = (what: string): StreamResult => {
      this.s.watchdogResets++;
      this.log.warn({ what, timeoutMs: o.ackTimeoutMs }, "intake stream stalled; cancelling and recreating the channel");
      call.cancel();
      o.transport.recreate(what);
      return { outcome: { ok: false, code: -1, codeName: "WATCHDOG", details: what }, sent };
    };

    try {
      if (resync || Date.now() - this.refreshedAt >= o.heartbeatIntervalMs) {
        heartbeatAt = Date.now();
        this.s.heartbeats++;
        m.heartbeats.inc({ channel: this.channel });
        if (!(await write(this.heartbeatBytes, 1))) return watchdog("drain_timeout");
      }
      if (resync) {
        this.lastSentSeq = 0;
        // Pending creates/updates committed before the snapshot starts are in it: once the snapshot
        // is acknowledged they are confirmed without being sent twice. Deletes are not in it and go.
        this.coveredUpTo = this.maxPendingSeq();
        // Cleared before the snapshot is read: a cap drop from here on sets it again and causes
        // another resync. If this one fails, needResync stays set in memory, and a restart always
        // resyncs, so clearing early loses nothing.
        if (this.storeWantsResync()) o.outbox.clearResync(this.channel);
        let n = 0;
        const pages: Iterable<ReadonlyArray<OutboxEntry | OutboxRawEntry>> = o.outbox.snapshotRaw
          ? o.outbox.snapshotRaw(this.channel, o.batchSize)
          : o.outbox.snapshot(this.channel, o.batchSize);
        for (const page of pages) {
          if (call.finished || this.stopping) break;
          const ok = page.filter((e) => e.bytes <= o.maxObjectBytes);
          if (ok.length === 0) continue;
          n += ok.length;
          if (!(await write(encodeEntries(ok, this.suffix, "CREATE").bytes, ok.length))) return watchdog("drain_timeout");
        }
        this.log.info({ objects: n }, "full state resync sent");
      }
      let lingered = false;
      let idleSince: number | undefined;
      while (!call.finished && !this.stopping && this.enabled()) {
        const now = Date.now();
        if (now >= ackDeadline && wroteSomething) break;
        if (sent.length >= o.maxUnackedEntries || sentBytes >= o.maxUnackedBytes) break;
        let limit = o.batchSize;
        if (this.isolate) {
          const left = this.isolate.limit - sent.length;
          if (left <= 0) break;
          limit = Math.min(limit, left);
        }
        const entries = this.readPending(this.lastSentSeq, limit, o.batchMaxBytes);
        if (entries.length === 0) {
          if (!wroteSomething) {
            // opened for nothing (pending entries were confirmed meanwhile); close it empty
            break;
          }
          if (sent.length === 0) break; // heartbeat/resync only: nothing more to wait for
          if (idleSince === undefined) idleSince = now;
          else if (now - idleSince >= o.idleEndMs) break;
          await this.waker.sleep(Math.min(ackDeadline - now, idleSince + o.idleEndMs - now));
          continue;
        }
        if (entries.length < limit && !lingered && o.lingerMs > 0 && now + o.lingerMs < ackDeadline) {
          lingered = true;
          await this.waker.sleep(o.lingerMs);
          continue;
        }
        lingered = false;
        idleSince = undefined;
        const big = entries.filter((e) => e.bytes > o.maxObjectBytes);
        const batch = big.length ? entries.filter((e) => e.bytes <= o.maxObjectBytes) : entries;
        if (big.length) this.drop(big.map(ref), "too_large");
        this.lastSentSeq = entries[entries.length - 1]!.seq;
        let toSend = batch;
        const coveredUpTo = this.coveredUpTo;
        if (coveredUpTo > 0 && batch[0]!.seq <= coveredUpTo) {
          const rest: Array<OutboxEntry | OutboxRawEntry> = [];
          for (const e of batch) {
            if (e.seq <= coveredUpTo && e.op !== "DELETE") sent.push(ref(e)); // confirmed on ack, not resent
            else rest.push(e);
          }
          toSend = rest;
        }
        if (toSend.length === 0) continue;
        const enc = encodeEntries(toSend, this.suffix);
        for (const e of toSend) {
          sent.push(ref(e));
          sentBytes += e.bytes;
        }
        if (!(await write(enc.bytes, enc.deltas))) return watchdog("drain_timeout");
      }
      if (!call.finished) call.end();
      const outcome = await Promise.race([
        call.done,
        new Promise<undefined>((r) => setTimeout(r, o.ackTimeoutMs).unref?.()),
      ]);
      if (outcome === undefined) return watchdog("ack_timeout");
      if (outcome.ok) this.onAck(sent, batches, heartbeatAt, resync ? opened : undefined);
      return { outcome, sent };
    } catch (err) {
      if (!call.finished) call.cancel();
      throw err;
    } finally {
      this.current = undefined;
    }
  }

  private onAck(sent: SentRef[], batches: number, heartbeatAt: number | undefined, resyncAt: number | undefined): void {
    const now = Date.now();
    if (sent.length) this.confirming = this.confirming.then(() => this.confirmChunked(sent));
    if (heartbeatAt !== undefined) this.refreshedAt = Math.max(this.refreshedAt, heartbeatAt);
    if (resyncAt !== undefined) this.refreshedAt = Math.max(this.refreshedAt, resyncAt);
    this.s.streamsAcked++;
    this.s.deltasAcked += sent.length;
    this.s.lastAckAt = now;
    m.streamsAcked.inc({ channel: this.channel });
    m.deltasAcked.inc({ channel: this.channel }, sent.length);
    m.batchesAcked.inc({ channel: this.channel }, batches);
    m.lastAck.set({ channel: this.channel }, now / 1000);
    this.log.debug({ sent: sent.length }, "intake stream acknowledged");
  }

  /**
   * Deletes acknowledged entries in chunks, yielding between them, so the next stream is already
   * sending (and the server working) while a large acknowledged set is removed. A crash before it
   * finishes re-sends those entries after restart: at-least-once either way.
   */
  private async confirmChunked(sent: SentRef[]): Promise<void> {
    const chunk = 2_000;
    for (let i = 0; i < sent.length; i += chunk) {
      try {
        this.o.outbox.confirm(this.channel, i === 0 && sent.length <= chunk ? sent : sent.slice(i, i + chunk));
      } catch (err) {
        this.log.error({ err: (err as Error).message }, "outbox confirm failed; the entries will be sent again");
        return;
      }
      if (i + chunk < sent.length) await new Promise((r) => setImmediate(r));
    }
  }
}
