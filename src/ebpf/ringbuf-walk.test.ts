// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the ring-buffer record walk over a ring laid out in memory as the kernel does
// (data area mapped twice): busy and discarded records, wrap-around, batch limits, oversized
// records, and the main thread's walk over a batch (truncated records cut to the batch).

import { describe, expect, test } from "bun:test";
import {
  BPF_RINGBUF_BUSY_BIT,
  BPF_RINGBUF_DISCARD_BIT,
  forEachBatchRecord,
  newRingWalk,
  ringRecordSpan,
  walkRing,
} from "./ringbuf-walk.ts";

/** A fake ring of `size` bytes whose data is visible twice, as the kernel maps it. */
class FakeRing {
  readonly bytes: Uint8Array;
  readonly hdr: Uint32Array;
  prod = 0;
  constructor(readonly size: number) {
    this.bytes = new Uint8Array(2 * size);
    this.hdr = new Uint32Array(this.bytes.buffer);
  }
  /** Writes a record at the producer position (flags: busy/discard bits); returns its position. */
  put(payload: number[], flags = 0): number {
    const pos = this.prod;
    const rec = new Uint8Array(8 + payload.length);
    new DataView(rec.buffer).setUint32(0, payload.length | flags, true);
    rec.set(payload, 8);
    for (let i = 0; i < rec.length; i++) {
      const at = (pos + i) & (this.size - 1);
      this.bytes[at] = rec[i]!;
      this.bytes[at + this.size] = rec[i]!;
    }
    this.prod += ringRecordSpan(payload.length);
    return pos;
  }
  /** The bytes of [start, end) as the reader copies them. */
  copy(start: number, end: number): DataView {
    const off = start & (this.size - 1);
    return new DataView(this.bytes.slice(off, off + (end - start)).buffer);
  }
}

function payloads(view: DataView): number[][] {
  const out: number[][] = [];
  forEachBatchRecord(view, (v, off, len) => out.push([...new Uint8Array(v.buffer, v.byteOffset + off, len)]));
  return out;
}

describe("walkRing", () => {
  test("takes committed records up to the producer position; spans are 8-byte aligned", () => {
    const r = new FakeRing(4096);
    r.put([1, 2, 3]);
    r.put([4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const w = walkRing(r.hdr, r.size - 1, 0, r.prod, 1 << 20, newRingWalk());
    expect(w).toEqual({ start: 0, end: 16 + 24, records: 2, oversized: 0, busy: false });
    expect(payloads(r.copy(w.start, w.end))).toEqual([
      [1, 2, 3],
      [4, 5, 6, 7, 8, 9, 10, 11, 12],
    ]);
  });

  test("stops at a busy record and resumes there once it is committed", () => {
    const r = new FakeRing(4096);
    r.put([1]);
    const busyAt = r.put([2, 2], BPF_RINGBUF_BUSY_BIT);
    r.put([3]);
    let w = walkRing(r.hdr, r.size - 1, 0, r.prod, 1 << 20, newRingWalk());
    expect(w).toMatchObject({ end: busyAt, records: 1, busy: true });
    r.hdr[busyAt >>> 2] = 2; // commit: clear BUSY
    w = walkRing(r.hdr, r.size - 1, w.end, r.prod, 1 << 20, w);
    expect(w).toMatchObject({ start: busyAt, end: r.prod, records: 2, busy: false });
    expect(payloads(r.copy(w.start, w.end))).toEqual([[2, 2], [3]]);
  });

  test("a discarded record is stepped over and not handed out", () => {
    const r = new FakeRing(4096);
    r.put([1]);
    r.put([9, 9, 9], BPF_RINGBUF_DISCARD_BIT);
    r.put([2]);
    const w = walkRing(r.hdr, r.size - 1, 0, r.prod, 1 << 20, newRingWalk());
    expect(w).toMatchObject({ end: r.prod, records: 2 });
    expect(payloads(r.copy(w.start, w.end))).toEqual([[1], [2]]);
  });

  test("records wrap around the end of the data area and positions keep growing", () => {
    const r = new FakeRing(64);
    let cons = 0;
    const seen: number[][] = [];
    for (let i = 0; i < 20; i++) {
      r.put([i, i + 1, i + 2, i + 3, i + 4]); // 16-byte span: 4 per lap, wrapping mid-record too
      if (i % 3 === 2) {
        const w = walkRing(r.hdr, r.size - 1, cons, r.prod, 1 << 20, newRingWalk());
        seen.push(...payloads(r.copy(w.start, w.end)));
        cons = w.end;
      }
    }
    r.put([7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]); // 24-byte span crossing the end
    const w = walkRing(r.hdr, r.size - 1, cons, r.prod, 1 << 20, newRingWalk());
    seen.push(...payloads(r.copy(w.start, w.end)));
    expect(seen.length).toBe(21);
    expect(seen.slice(0, 20)).toEqual([...Array(20).keys()].map((i) => [i, i + 1, i + 2, i + 3, i + 4]));
    expect(seen[20]).toEqual(Array(13).fill(7));
    expect(w.end).toBe(r.prod);
    expect(r.prod).toBeGreaterThan(4 * r.size);
  });

  test("a batch never exceeds maxSpan; a record larger than maxSpan is skipped and counted", () => {
    const r = new FakeRing(4096);
    r.put(Array(24).fill(1)); // span 32
    r.put(Array(24).fill(2)); // span 32
    r.put(Array(100).fill(3)); // span 112 > 64
    r.put(Array(8).fill(4)); // span 16
    const w = walkRing(r.hdr, r.size - 1, 0, r.prod, 64, newRingWalk());
    expect(w).toMatchObject({ start: 0, end: 64, records: 2, oversized: 0 });
    const w2 = walkRing(r.hdr, r.size - 1, w.end, r.prod, 64, newRingWalk());
    expect(w2).toMatchObject({ start: 64 + 112, end: r.prod, records: 1, oversized: 1 });
    expect(payloads(r.copy(w2.start, w2.end))).toEqual([Array(8).fill(4)]);
  });

  test("nothing to take: end stays at the consumer position", () => {
    const r = new FakeRing(4096);
    expect(walkRing(r.hdr, r.size - 1, 0, 0, 1 << 20, newRingWalk())).toMatchObject({ start: 0, end: 0, records: 0, busy: false });
  });
});

describe("forEachBatchRecord", () => {
  test("a record whose length runs past the batch is cut to what the batch holds", () => {
    const buf = new DataView(new ArrayBuffer(8 + 4));
    buf.setUint32(0, 40, true);
    const lens: number[] = [];
    forEachBatchRecord(buf, (_v, off, len) => lens.push(off, len));
    expect(lens).toEqual([8, 4]);
  });
});
