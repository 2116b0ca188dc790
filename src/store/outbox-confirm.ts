// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The outbox's three confirm paths (outbox.ts#confirm picks one): moving the channel's
// confirmed-up-to seq, deleting a seq range, and the (key, seq) delete; with the range check they share.

import type { Logger } from "../log/logger.ts";
import type { OutboxStatements } from "./statements.ts";
import type { ConfirmRef } from "./types.ts";

/** meta key prefix of a channel's confirmed-up-to seq. */
export const CONFIRMED_KEY = "confirmed:";
/** Entries per (key, seq) confirm statement. */
const CONFIRM_CHUNK = 500;

/** What the confirm paths need from the outbox and its store. */
export interface ConfirmContext {
  readonly s: OutboxStatements;
  readonly logger: Logger;
  /** True while a store transaction is open (a caller's batch). */
  readonly inTransaction: boolean;
  /** Runs fn in a store transaction (nested calls join the current one). */
  runTx<T>(fn: () => T): T;
  /** Records an outbox depth/bytes change inside the current transaction. */
  countDelta(channel: string, depth: number, bytes: number): void;
  /** The channel's confirmed-up-to seq, and setting it in memory. */
  upTo(channel: string): number;
  setUpTo(channel: string, seq: number): void;
  /** Counts of the paths taken (tests). */
  readonly counters: { upToConfirms: number; rangeConfirms: number; rangeFallbacks: number };
}

/**
 * Confirm by moving the channel's confirmed-up-to seq (see outbox.ts#confirm); undefined when it
 * does not apply. Not inside a caller's transaction: the in-memory mark follows this confirm's own
 * commit.
 */
export function confirmUpTo(c: ConfirmContext, channel: string, entries: ReadonlyArray<ConfirmRef>, readAfter: number): number | undefined {
  const end = rangeEnd(entries, readAfter, true);
  if (end === undefined || c.inTransaction) return undefined;
  const from = c.upTo(channel);
  if (end <= from) return 0; // every row up to `end` is done already
  try {
    return c.runTx(() => {
      // every pending row up to `end` must be one of the entries (none between `from` and readAfter)
      const present = c.s.obRangeSeqs.values(channel, from, end) as [number][];
      const m = matchSent(present, entries);
      if (m === undefined) return undefined;
      if (present.length === 0) return 0;
      c.s.metaSet.run(CONFIRMED_KEY + channel, String(end));
      for (const seq of m.deletes) c.s.obDeleteSeq.run(channel, seq);
      c.countDelta(channel, -present.length, -m.bytes);
      // set before the commit's afterCommit (cap enforcement reads it); put back if the commit fails
      c.setUpTo(channel, end);
      c.counters.upToConfirms++;
      return present.length;
    });
  } catch (err) {
    c.setUpTo(channel, from);
    throw err;
  }
}

/** Range-delete confirm (see outbox.ts#confirm); undefined when it does not apply and the (key, seq) path must run. */
export function confirmRange(
  c: ConfirmContext,
  channel: string,
  entries: ReadonlyArray<ConfirmRef>,
  readAfter: number,
): number | undefined {
  const end = rangeEnd(entries, readAfter, false);
  if (end === undefined) return undefined;
  // rows at or below the confirmed-up-to seq are done: only the pending part of the range counts
  const from = Math.max(readAfter, c.upTo(channel));
  if (end <= from) return 0;
  return c.runTx(() => {
    const present = c.s.obRangeSeqs.values(channel, from, end) as [number][];
    const m = matchSent(present, entries);
    if (m === undefined) {
      c.counters.rangeFallbacks++;
      c.logger.warn(
        { channel, readAfter, upTo: end },
        "outbox range confirm found an entry the consumer did not send; confirming by (key, seq) instead",
      );
      return undefined;
    }
    if (present.length === 0) return 0;
    const n = c.s.obConfirmRange.run(channel, from, end).changes;
    // cannot differ: nothing else writes between the two statements (one connection, synchronous)
    if (n !== present.length) throw new Error(`outbox range confirm deleted ${n} rows, expected ${present.length}`);
    c.countDelta(channel, -n, -m.bytes);
    c.counters.rangeConfirms++;
    return n;
  });
}

/**
 * One DELETE statement per chunk of CONFIRM_CHUNK entries (not one per entry): only entries whose
 * (key, seq) still match are removed; a done row (at or below the confirmed-up-to seq) is removed
 * without counting.
 */
export function confirmPairs(c: ConfirmContext, channel: string, entries: ReadonlyArray<ConfirmRef>): number {
  let n = 0;
  const upTo = c.upTo(channel);
  c.runTx(() => {
    let bytes = 0;
    let pairs: Array<[string, number]> = [];
    const flush = () => {
      if (pairs.length === 0) return;
      for (const [b, seq] of c.s.obConfirmMany.values(JSON.stringify(pairs), channel) as [number, number][]) {
        if (seq <= upTo) continue;
        n++;
        bytes += b;
      }
      pairs = [];
    };
    for (const e of entries) {
      if (!(e.seq > 0)) continue;
      pairs.push([e.key, e.seq]);
      if (pairs.length >= CONFIRM_CHUNK) flush();
    }
    flush();
    if (n > 0) c.countDelta(channel, -n, -bytes);
  });
  return n;
}

/**
 * The end of a confirm range: the last seq of `entries` when their seqs strictly increase after
 * `readAfter` and each carries the bytes (and, with `needOp`, the op) it was read with; else undefined.
 */
function rangeEnd(entries: ReadonlyArray<ConfirmRef>, readAfter: number, needOp: boolean): number | undefined {
  if (entries.length === 0) return undefined;
  let end = readAfter;
  for (const e of entries) {
    if (!(e.seq > end) || typeof e.bytes !== "number" || (needOp && e.op === undefined)) return undefined;
    end = e.seq;
  }
  return end;
}

/**
 * The pending rows of a confirm range (their seqs, ascending) matched against the entries sent
 * (ascending): the rows' bytes and the seqs of DELETE entries; undefined when a row is not one of
 * the entries (the same seq is the same row version, so the same bytes and op).
 */
function matchSent(present: ReadonlyArray<[number]>, entries: ReadonlyArray<ConfirmRef>): { bytes: number; deletes: number[] } | undefined {
  let j = 0;
  let bytes = 0;
  const deletes: number[] = [];
  for (const [seq] of present) {
    while (j < entries.length && entries[j]!.seq < seq) j++;
    const e = entries[j];
    if (e === undefined || e.seq !== seq) return undefined;
    bytes += e.bytes!;
    if (e.op === "DELETE") deletes.push(seq);
  }
  return { bytes, deletes };
}
