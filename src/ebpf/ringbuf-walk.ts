// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The record layout of a BPF_MAP_TYPE_RINGBUF data area and the pure walk over its 8-byte record
 * headers (struct bpf_ringbuf_hdr { u32 len; u32 pg_off; }), shared by the reader Worker (over the
 * mapped ring) and the main thread (over a batch, which is a copy of a run of consecutive records,
 * headers included). No IO and no memory ordering here: src/ebpf/ringbuf-map.ts says why the loads
 * it hands to walkRing() are ordered.
 */

/** Set in `len` while the producer has reserved the record and not yet committed it. */
export const BPF_RINGBUF_BUSY_BIT = 0x8000_0000;
/** Set in `len` when the producer discarded the record (it occupies space but carries nothing). */
export const BPF_RINGBUF_DISCARD_BIT = 0x4000_0000;
export const BPF_RINGBUF_HDR_SZ = 8;
const LEN_MASK = ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT) >>> 0;

/** Bytes a record of `len` payload bytes occupies in the ring: header + payload, rounded up to 8. */
export function ringRecordSpan(len: number): number {
  return (len + BPF_RINGBUF_HDR_SZ + 7) & ~7;
}

/** Where walkRing() stopped; reused between calls so the walk allocates nothing. */
export interface RingWalk {
  /** Consumer position of the first record in the batch (after any oversized records skipped). */
  start: number;
  /** Consumer position after the last record taken (or skipped). */
  end: number;
  /** Committed, not discarded records in [start, end). */
  records: number;
  /** Records larger than `maxSpan` that were skipped (counted, never handed out). */
  oversized: number;
  /** True when the walk stopped at a record the producer has not committed yet. */
  busy: boolean;
}

export function newRingWalk(): RingWalk {
  return { start: 0, end: 0, records: 0, oversized: 0, busy: false };
}

/**
 * Walks committed records from consumer position `cons` toward producer position `prod` in a
 * ring whose data area is seen through `hdr` (32-bit words; the data is mapped twice, so a record
 * that wraps is contiguous). Stops at the first busy record, at `prod`, or before the batch
 * [start, end) would exceed `maxSpan` bytes. A record whose own span exceeds `maxSpan` is skipped
 * and counted in `oversized` when it would be the first of the batch (and ends the batch
 * otherwise, so it is skipped at the start of the next one). Positions are byte counts that only
 * grow (JS numbers: exact up to 2^53); `mask` is the data size minus 1 (a power of two ≤ 2^31).
 */
export function walkRing(hdr: Uint32Array, mask: number, cons: number, prod: number, maxSpan: number, w: RingWalk): RingWalk {
  let pos = cons;
  let start = cons;
  let records = 0;
  let oversized = 0;
  let busy = false;
  while (pos < prod) {
    const len = hdr[(pos & mask) >>> 2]!;
    if (len & BPF_RINGBUF_BUSY_BIT) {
      busy = true;
      break;
    }
    const span = ringRecordSpan(len & LEN_MASK);
    if (span > maxSpan) {
      if (pos !== start) break;
      oversized++;
      pos += span;
      start = pos;
      continue;
    }
    if (pos + span - start > maxSpan) break;
    if ((len & BPF_RINGBUF_DISCARD_BIT) === 0) records++;
    pos += span;
  }
  w.start = start;
  w.end = pos;
  w.records = records;
  w.oversized = oversized;
  w.busy = busy;
  return w;
}

/**
 * Calls onRecord(view, payloadOffset, length) for each committed, not discarded record of a batch
 * (a copy of [start, end) of the ring). A record whose length runs past the batch is handed out
 * cut to what the batch holds (the decoder rejects it as truncated). Returns the records handed out.
 */
export function forEachBatchRecord(view: DataView, onRecord: (view: DataView, offset: number, length: number) => void): number {
  const size = view.byteLength;
  let off = 0;
  let n = 0;
  while (off + BPF_RINGBUF_HDR_SZ <= size) {
    const raw = view.getUint32(off, true);
    const len = raw & LEN_MASK;
    const payload = off + BPF_RINGBUF_HDR_SZ;
    if ((raw & BPF_RINGBUF_DISCARD_BIT) === 0) {
      onRecord(view, payload, Math.min(len, size - payload));
      n++;
    }
    off += ringRecordSpan(len);
  }
  return n;
}
