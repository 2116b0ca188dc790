// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The transactional outbox: one row per object and channel, pending until the intake confirms it
// (then done, below the channel's confirmed-up-to seq, until the object changes again); pending
// entries bounded by a byte and an entry cap per channel.
// Over 400 lines: the outbox's whole contract (append, reads, caps, snapshot, metrics, the choice of
// confirm path; the paths themselves are in outbox-confirm.ts) stays in the one class that owns its
// statements and counters.

import type { Database } from "bun:sqlite";
import { fromBinary } from "@bufbuild/protobuf";
import { Gauge } from "prom-client";
import type { Logger } from "../log/logger.ts";
import { type BoundMeter, meterBound, registry } from "../metrics/registry.ts";
import { ObjectSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { type ConfirmContext, confirmPairs, confirmRange, confirmUpTo } from "./outbox-confirm.ts";
import type { ObRow, OutboxStatements } from "./statements.ts";
import {
  type ConfirmRef,
  type Outbox,
  type OutboxEntry,
  type OutboxOp,
  type OutboxRawEntry,
  type OutboxStats,
  StoreClosedError,
} from "./types.ts";
import { RELATIONSHIP_TYPE_URL, RESOURCE_TYPE_URL, wireObject, wireObjectSize } from "./wire.ts";

export const DEFAULT_OUTBOX_MAX_BYTES = 256 * 1024 * 1024;
export const DEFAULT_OUTBOX_MAX_ENTRIES = 4_000_000;

export const OP_CODE: Record<OutboxOp, number> = { CREATE: 0, UPDATE: 1, DELETE: 2 };
const OP_NAME: OutboxOp[] = ["CREATE", "UPDATE", "DELETE"];

/** A CREATE/UPDATE read row as a raw entry: its object's kind and type, and its message as an Any (type URL, bytes). */
function objectEntry(
  r: ObRow,
  channel: string,
  op: OutboxOp,
  kind: string,
  type: string,
  typeUrl: string,
  value: Uint8Array,
): OutboxRawEntry {
  return { seq: r[0], channel, key: r[1], op, kind, type, typeUrl, value, bytes: r[5], enqueuedAt: r[6] };
}
export const ENTITY_RESOURCE = 0;
export const ENTITY_RELATIONSHIP = 1;
const REL_KEY_PREFIX = "rel:";

/**
 * Outbox key of a relationship: "rel:<rid>". rids only grow (AUTOINCREMENT), so keys are never
 * reused, and the outbox index gets sequential inserts instead of random ones. A triple deleted and
 * added again is a new row: its pending DELETE and new CREATE are two entries, sent in order.
 */
export function relKey(rid: number): string {
  return REL_KEY_PREFIX + rid;
}

/** What the outbox needs from the store that owns it. */
export interface OutboxHost {
  readonly db: Database;
  readonly isClosed: boolean;
  readonly writable: boolean;
  /** True while a store transaction is open (a caller's batch). */
  readonly inTransaction: boolean;
  /** Runs fn in a store transaction (nested calls join the current one). */
  runTx<T>(fn: () => T): T;
  /** Records an outbox depth/bytes change inside the current transaction. */
  countDelta(channel: string, depth: number, bytes: number): void;
}

/** The store options the outbox reads. */
export interface OutboxOptions {
  logger: Logger;
  outboxMaxBytes?: number;
  outboxMaxEntries?: number;
  /** Channels recorded (with a consumer); undefined: all. */
  outboxChannels?: readonly string[];
}

/** One entry to append: the object's channel and key, and either its row (rid) or its encoded DELETE (body). */
export interface OutboxAppend {
  seq: number;
  /** ms since epoch. */
  enqueuedAt: number;
  channel: string;
  key: string;
  entity: number;
  op: OutboxOp;
  rid: number | null;
  body: Uint8Array | null;
  /** Encoded size of the wire object. */
  bytes: number;
}

// ---- metrics shared by every open store (bytes and age are read at scrape time) ----
const liveOutboxes = new Set<SqliteOutbox>();
function collectOutboxGauges(kind: "bytes" | "age", g: Gauge<"channel">): void {
  g.reset();
  for (const o of liveOutboxes) {
    for (const ch of o.channels()) {
      const st = o.stats(ch);
      if (kind === "bytes") g.set({ channel: ch }, st.bytes);
      else g.set({ channel: ch }, st.oldestEnqueuedAt === undefined ? 0 : Math.max(0, (Date.now() - st.oldestEnqueuedAt) / 1000));
    }
  }
}
function gauge(name: string, help: string, kind: "bytes" | "age"): Gauge<"channel"> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<"channel">;
  return new Gauge({
    name,
    help,
    labelNames: ["channel"] as const,
    registers: [registry],
    collect() {
      collectOutboxGauges(kind, this as Gauge<"channel">);
    },
  });
}
gauge("antimetal_store_outbox_bytes", "Bytes of pending outbox entries, by channel.", "bytes");
gauge("antimetal_store_outbox_oldest_age_seconds", "Age of the oldest pending outbox entry, by channel.", "age");

/**
 * Transactional outbox over the store's tables. Bounded by the number of live objects (one entry per
 * object, coalesced) plus pending deletes, and by a byte and an entry cap per channel: past a cap,
 * the oldest entries of that channel are dropped (counted), and the channel is flagged for a full
 * resync from snapshot(). Drops go down to 90% of the cap, so a full outbox does not trim per write.
 */
export class SqliteOutbox implements Outbox {
  private readonly listeners = new Set<(channel: string) => void>();
  private readonly meters = new Map<string, BoundMeter>();
  private readonly maxBytes: number;
  private readonly maxEntries: number;
  /** depth/bytes per channel; exact: recounted on open, changed only after commits. */
  private readonly counts = new Map<string, { depth: number; bytes: number }>();
  private readonly recorded: ReadonlySet<string> | undefined;
  /**
   * Per channel, the confirmed-up-to seq (meta "confirmed:<channel>"): rows at or below it are
   * done, not pending. Changed only by a committed confirm; read on open.
   */
  private readonly confirmedUpTo = new Map<string, number>();
  /** Channels holding any row (pending or done) on open. */
  private readonly rowChannels = new Set<string>();
  /**
   * @internal confirms that moved the confirmed-up-to seq, confirms that deleted a seq range, and
   * ranges left to the (key, seq) path because they held an entry not sent (tests).
   */
  upToConfirms = 0;
  rangeConfirms = 0;
  rangeFallbacks = 0;
  private readonly confirmContext: ConfirmContext;

  constructor(
    private readonly host: OutboxHost,
    private readonly s: OutboxStatements,
    private readonly opts: OutboxOptions,
  ) {
    this.maxBytes = opts.outboxMaxBytes ?? DEFAULT_OUTBOX_MAX_BYTES;
    this.maxEntries = opts.outboxMaxEntries ?? DEFAULT_OUTBOX_MAX_ENTRIES;
    this.recorded = opts.outboxChannels ? new Set(opts.outboxChannels) : undefined;
    this.confirmContext = {
      s,
      logger: opts.logger,
      get inTransaction() {
        return host.inTransaction;
      },
      runTx: (fn) => host.runTx(fn),
      countDelta: (channel, depth, bytes) => host.countDelta(channel, depth, bytes),
      upTo: (channel) => this.upTo(channel),
      setUpTo: (channel, seq) => void this.confirmedUpTo.set(channel, seq),
      counters: this,
    };
  }

  private meter(channel: string): BoundMeter {
    let m = this.meters.get(channel);
    if (!m) {
      m = meterBound(`outbox_${channel}`, this.maxEntries);
      this.meters.set(channel, m);
    }
    return m;
  }

  private depthBytes(channel: string): { depth: number; bytes: number } {
    const c = this.counts.get(channel);
    return c ? { depth: c.depth, bytes: c.bytes } : { depth: 0, bytes: 0 };
  }

  /**
   * @internal counts the table (on open; one pass over the outbox). Returns the highest seq of any
   * row or confirmed-up-to mark: every new entry's seq must be above both.
   */
  recount(): number {
    this.counts.clear();
    this.confirmedUpTo.clear();
    this.rowChannels.clear();
    let max = 0;
    for (const [ch, upTo] of this.s.obConfirmedUpTo.values() as [string, number][]) {
      this.confirmedUpTo.set(ch, upTo);
      max = Math.max(max, upTo);
    }
    for (const [ch, n, b, m] of this.s.obCounts.values() as [string, number, number, number][]) {
      this.rowChannels.add(ch);
      this.counts.set(ch, { depth: n, bytes: b });
      max = Math.max(max, m);
    }
    return max;
  }

  /** Seq up to which `channel`'s entries are confirmed (rows at or below it are done). */
  private upTo(channel: string): number {
    return this.confirmedUpTo.get(channel) ?? 0;
  }

  /** @internal applies a committed change. */
  addCounts(channel: string, depth: number, bytes: number): void {
    const c = this.counts.get(channel);
    if (c) {
      c.depth += depth;
      c.bytes += bytes;
    } else this.counts.set(channel, { depth, bytes });
  }

  /** True when changes on `channel` are recorded (the channel has a consumer). */
  records(channel: string): boolean {
    return this.recorded === undefined || this.recorded.has(channel);
  }

  /**
   * @internal appends one entry (or coalesces it into the object's pending one) inside the current
   * store transaction.
   */
  append(e: OutboxAppend): void {
    let op = OP_CODE[e.op];
    // A CREATE's object is new: usually no row, so one plain insert (a conflict means a pending or done
    // DELETE of the same key). An UPDATE's or DELETE's object usually has its row (pending, or done
    // after a confirm): look it up and rewrite it in place with the new seq (cheaper than trying the
    // insert first: 3.2 vs 4.3 us).
    if (op === OP_CODE.CREATE && this.insert(e, op)) return;
    const prev = this.s.obPrev.values(e.channel, e.key)[0] as [number, number, number, number] | undefined;
    if (prev === undefined) {
      if (!this.insert(e, op)) throw new Error(`outbox append: no row and no insert for ${e.channel} ${e.key}`);
      return;
    }
    const [id, prevBytes, prevSeq, prevOp] = prev;
    const pending = prevSeq > this.upTo(e.channel);
    // an UPDATE coalescing into a pending CREATE stays a CREATE: the intake has not seen the object yet
    if (pending && prevOp === OP_CODE.CREATE && op === OP_CODE.UPDATE) op = OP_CODE.CREATE;
    this.s.obUpdate.run(e.seq, e.entity, op, e.rid, e.body, e.bytes, e.enqueuedAt, id);
    if (pending) this.host.countDelta(e.channel, 0, e.bytes - prevBytes);
    else this.host.countDelta(e.channel, 1, e.bytes);
  }

  /** Inserts `e` as a new row unless its (channel, key) has one; true when it did. */
  private insert(e: OutboxAppend, op: number): boolean {
    if (this.s.obInsert.run(e.seq, e.channel, e.key, e.entity, op, e.rid, e.body, e.bytes, e.enqueuedAt).changes !== 1) return false;
    this.host.countDelta(e.channel, 1, e.bytes);
    return true;
  }

  /**
   * @internal on open: drops the pending entries of channels that are not recorded (no consumer),
   * so an outbox left by an earlier run with upload on does not sit at its size forever.
   */
  dropUnrecorded(): void {
    for (const channel of new Set([...this.channels(), ...this.rowChannels])) {
      if (this.records(channel)) continue;
      const { depth } = this.depthBytes(channel);
      if (depth === 0 && !this.rowChannels.has(channel)) continue;
      this.host.db.run("DELETE FROM outbox WHERE channel = ?", [channel]);
      this.counts.delete(channel);
      this.rowChannels.delete(channel);
      if (depth === 0) continue; // only confirmed rows: nothing to report
      this.meter(channel).dropped("no_consumer", depth);
      this.meter(channel).depth(0);
      this.opts.logger.info(
        { channel, dropped: depth },
        "outbox channel has no consumer: dropped its pending entries (a consumer resyncs from the tables)",
      );
    }
  }

  /** @internal makes this outbox count in the scrape-time gauges (writable stores). */
  trackMetrics(): void {
    liveOutboxes.add(this);
  }

  /** @internal */
  untrackMetrics(): void {
    liveOutboxes.delete(this);
  }

  /** `readRaw` with each entry decoded into a resource.v1.Object. */
  read(channel: string, afterSeq: number, limit: number, maxBytes = Infinity): OutboxEntry[] {
    return this.readRaw(channel, afterSeq, limit, maxBytes).map(decodeRaw);
  }

  readRaw(channel: string, afterSeq: number, limit: number, maxBytes = Infinity): OutboxRawEntry[] {
    if (this.host.isClosed) throw new StoreClosedError();
    const rows = this.s.obRead.values(channel, Math.max(afterSeq, this.upTo(channel)), Math.max(1, Math.floor(limit))) as ObRow[];
    const out: OutboxRawEntry[] = [];
    let total = 0;
    for (const r of rows) {
      if (out.length > 0 && total + r[5] > maxBytes) break;
      const op = OP_NAME[r[3]]!;
      let e: OutboxRawEntry;
      if (op === "DELETE") {
        e = { seq: r[0], channel, key: r[1], op, encoded: r[4]!, bytes: r[5], enqueuedAt: r[6] };
      } else if (r[2] === ENTITY_RESOURCE && r[9]) {
        e = objectEntry(r, channel, op, r[7]!, r[8]!, RESOURCE_TYPE_URL, r[9]);
      } else if (r[2] === ENTITY_RELATIONSHIP && r[12]) {
        e = objectEntry(r, channel, op, r[10]!, r[11]!, RELATIONSHIP_TYPE_URL, r[12]);
      } else {
        // cannot happen: entries and rows change in the same transaction
        this.opts.logger.error({ channel, key: r[1], seq: r[0] }, "outbox entry without its row; skipped");
        continue;
      }
      total += r[5];
      out.push(e);
    }
    return out;
  }

  /**
   * Confirms the entries whose (key, seq) still match; an entry coalesced after it was read has a
   * newer seq and stays pending. Returns how many were confirmed.
   *
   * With `readAfter`: the caller states that `entries` are, in seq order, every entry it read with
   * seq in (readAfter, last seq], each read starting where the previous one ended (the intake's
   * stream), with the `bytes` (and `op`) read. Seqs only grow and a coalesced entry takes a new,
   * higher one, so the rows of that range still pending are exactly the entries read whose seq still
   * matches. The pending seqs in the range are checked against `entries` first (same transaction);
   * then, in order of preference:
   * - when no pending row lies between the channel's confirmed-up-to seq and the range, and every
   *   entry carries its op: the confirmed-up-to seq moves to the range's end (one small write); the
   *   rows stay as done rows, rewritten in place by the object's next change; confirmed DELETE
   *   entries' rows are deleted (their keys may never come back);
   * - else one range DELETE over the (channel, seq) index;
   * - any other row (a caller that skipped one) leaves the range alone and the (key, seq) path runs,
   *   so the result never differs.
   */
  confirm(channel: string, entries: ReadonlyArray<ConfirmRef>, readAfter?: number): number {
    if (!this.host.writable) throw new StoreClosedError();
    const c = this.confirmContext;
    const n =
      readAfter === undefined ? undefined : (confirmUpTo(c, channel, entries, readAfter) ?? confirmRange(c, channel, entries, readAfter));
    const done = n ?? confirmPairs(c, channel, entries);
    this.meter(channel).depth(this.depthBytes(channel).depth);
    return done;
  }

  stats(channel: string): OutboxStats {
    if (this.host.isClosed) throw new StoreClosedError();
    const { depth, bytes } = this.depthBytes(channel);
    const oldest = this.s.obOldest.values(channel, this.upTo(channel))[0] as [number] | undefined;
    const newest = this.newestSeq(channel);
    return { depth, bytes, oldestEnqueuedAt: oldest?.[0], newestSeq: newest === 0 ? undefined : newest };
  }

  newestSeq(channel: string): number {
    if (this.host.isClosed) throw new StoreClosedError();
    const newest = (this.s.obNewest.values(channel)[0] as [number] | undefined)?.[0] ?? 0;
    return newest > this.upTo(channel) ? newest : 0;
  }

  /** `snapshotRaw` with each entry decoded into a resource.v1.Object. */
  *snapshot(channel: string, pageSize: number): Iterable<OutboxEntry[]> {
    for (const page of this.snapshotRaw(channel, pageSize)) yield page.map(decodeRaw);
  }

  *snapshotRaw(channel: string, pageSize: number): Iterable<OutboxRawEntry[]> {
    const size = Math.max(1, Math.floor(pageSize));
    for (const entity of [ENTITY_RESOURCE, ENTITY_RELATIONSHIP]) {
      const typeUrl = entity === ENTITY_RESOURCE ? RESOURCE_TYPE_URL : RELATIONSHIP_TYPE_URL;
      let after = 0;
      for (;;) {
        if (this.host.isClosed) throw new StoreClosedError();
        const stmt = entity === ENTITY_RESOURCE ? this.s.snapRes : this.s.snapRel;
        const rows = stmt.values(channel, after, size) as [number, string | Uint8Array, string, string, Uint8Array][];
        if (rows.length === 0) break;
        const now = Date.now();
        const page: OutboxRawEntry[] = rows.map(([rid, k, kind, type, body]) => ({
          seq: 0,
          channel,
          key: entity === ENTITY_RESOURCE ? (k as string) : relKey(rid),
          op: "CREATE",
          kind,
          type,
          typeUrl,
          value: body,
          bytes: wireObjectSize(kind, type, typeUrl, body.length),
          enqueuedAt: now,
        }));
        after = rows[rows.length - 1]![0];
        yield page;
        if (rows.length < size) break;
      }
    }
  }

  onAppend(listener: (channel: string) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  needsResync(channel: string): boolean {
    return this.s.metaGet.values(`resync:${channel}`).length > 0;
  }

  clearResync(channel: string): void {
    if (!this.host.writable) throw new StoreClosedError();
    this.s.metaDel.run(`resync:${channel}`);
  }

  channels(): string[] {
    const out = new Set<string>();
    for (const [ch, c] of this.counts) if (c.depth > 0) out.add(ch);
    for (const [ch] of this.s.obResyncChannels.values() as [string][]) out.add(ch);
    return [...out];
  }

  /** @internal after each commit that appended to `channel`. */
  notify(channel: string): void {
    for (const l of this.listeners) {
      try {
        l(channel);
      } catch (err) {
        this.opts.logger.error({ err: String(err), channel }, "outbox onAppend listener threw");
      }
    }
  }

  /** @internal drops the oldest entries of `channel` past a cap (own transaction), flags a resync. */
  enforceCap(channel: string): void {
    let { depth, bytes } = this.depthBytes(channel);
    const meter = this.meter(channel);
    if (bytes <= this.maxBytes && depth <= this.maxEntries) {
      meter.depth(depth);
      return;
    }
    const reason = bytes > this.maxBytes ? "cap_bytes" : "cap_entries";
    const targetBytes = Math.floor(this.maxBytes * 0.9);
    const targetDepth = Math.floor(this.maxEntries * 0.9);
    let dropped = 0;
    let droppedBytes = 0;
    this.host.db.transaction(() => {
      while (bytes > targetBytes || depth > targetDepth) {
        const rows = this.s.obTrim.values(channel, this.upTo(channel), 1000) as [number][];
        if (rows.length === 0) break;
        for (const [b] of rows) {
          bytes -= b;
          droppedBytes += b;
        }
        depth -= rows.length;
        dropped += rows.length;
      }
      this.s.metaSet.run(`resync:${channel}`, String(Date.now()));
    })();
    this.addCounts(channel, -dropped, -droppedBytes);
    meter.dropped(reason, dropped);
    meter.depth(depth);
    this.opts.logger.warn(
      { channel, dropped, droppedBytes, reason, maxBytes: this.maxBytes, maxEntries: this.maxEntries },
      "outbox over its cap: dropped the oldest entries; channel needs a full resync",
    );
  }

  /** @internal */
  closeListeners(): void {
    this.listeners.clear();
  }
}

/** The decoded form of a raw outbox entry: the same fields, with `object` built from the stored bytes. */
function decodeRaw(e: OutboxRawEntry): OutboxEntry {
  const object = e.encoded ? fromBinary(ObjectSchema, e.encoded) : wireObject(e.kind!, e.type!, e.typeUrl!, e.value!);
  return { seq: e.seq, channel: e.channel, key: e.key, op: e.op, object, bytes: e.bytes, enqueuedAt: e.enqueuedAt };
}
