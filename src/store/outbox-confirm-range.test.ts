// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the outbox's range confirm (confirm with readAfter): it removes exactly what the
// (key, seq) confirm removes — entries coalesced or deleted while in flight stay, rows the caller did
// not send (a gap, a range starting too early) are never deleted — and a random interleaving of
// writes, contiguous reads and confirms leaves a twin store confirming by (key, seq) in the same state.

import { afterEach, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { silentLogger } from "../log/logger.ts";
import { type Resource, type ResourceRef, ResourceRefSchema, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { openStore } from "./index.ts";
import type { SqliteStore } from "./sqlite-store.ts";
import type { OutboxRawEntry } from "./types.ts";

const open: SqliteStore[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});
/** A fixed clock: twin stores given the same writes encode the same timestamps, so their byte counts agree. */
function mem(): SqliteStore {
  const s = openStore({ dataDirectory: "", logger: silentLogger, now: () => 1_765_000_000_000 });
  open.push(s);
  return s;
}
const res = (name: string, region = ""): Resource =>
  create(ResourceSchema, { type: { kind: "resource.v1.Resource", type: "t.A" }, metadata: { name, region } });
const refOf = (name: string): ResourceRef => create(ResourceRefSchema, { typeUrl: "t.A", name });
const keyOf = (name: string) => `t.A/${Buffer.from(name).toString("base64")}`;
/** The pending entries as (key, seq, op), in seq order. */
const pending = (s: SqliteStore) => s.outbox.readRaw("cluster", 0, 1e6).map((e) => [e.key, e.seq, e.op] as const);
/** Reads everything pending after `after` the way a stream does: pages, each starting at the previous page's last seq. */
function readContiguous(s: SqliteStore, after: number, page: number): OutboxRawEntry[] {
  const out: OutboxRawEntry[] = [];
  for (let cursor = after; ; ) {
    const p = s.outbox.readRaw("cluster", cursor, page);
    if (p.length === 0) return out;
    out.push(...p);
    cursor = p.at(-1)!.seq;
  }
}

test("range confirm keeps entries coalesced, deleted or appended while in flight; removes the rest; counts exact", () => {
  const s = mem();
  s.batch(() => {
    for (let i = 0; i < 30; i++) s.updateResource(res(`r${i}`));
  });
  const sent = readContiguous(s, 0, 7);
  expect(sent).toHaveLength(30);
  // in flight: updates and a delete of sent objects (new seqs), and new objects
  s.updateResource(res("r3", "newer"));
  s.updateResource(res("r29", "newer"));
  s.deleteResource(refOf("r10"));
  s.updateResource(res("new1"));
  const moved = new Set(["r3", "r29", "r10", "new1"].map(keyOf));
  const before = s.outbox.stats("cluster");
  expect(s.outbox.confirm("cluster", sent, 0)).toBe(27);
  expect(s.outbox.rangeFallbacks).toBe(0);
  const left = pending(s);
  expect(new Set(left.map(([k]) => k))).toEqual(moved);
  expect(left.find(([k]) => k === keyOf("r10"))![2]).toBe("DELETE");
  // every entry left has a seq the stream never read
  for (const [, seq] of left) expect(seq).toBeGreaterThan(sent.at(-1)!.seq);
  const after = s.outbox.stats("cluster");
  expect(after.depth).toBe(4);
  const gone = sent.filter((e) => !moved.has(e.key));
  expect(before.bytes - after.bytes).toBe(gone.reduce((a, e) => a + e.bytes, 0));
});

test("range confirm in sub-ranges (the streamer's chunks) removes the same as one range", () => {
  const s = mem();
  s.batch(() => {
    for (let i = 0; i < 50; i++) s.updateResource(res(`r${i}`));
  });
  const sent = readContiguous(s, 0, 9);
  s.updateResource(res("r20", "newer"));
  let after = 0;
  let n = 0;
  for (let i = 0; i < sent.length; i += 16) {
    const part = sent.slice(i, i + 16);
    n += s.outbox.confirm("cluster", part, after);
    after = part.at(-1)!.seq;
  }
  expect(n).toBe(49);
  expect(pending(s).map(([k]) => k)).toEqual([sent[20]!.key]);
  expect(s.outbox.rangeFallbacks).toBe(0);
});

test("a gap: a row the caller did not send, inside the range, is not deleted (the range is left alone, (key, seq) runs)", () => {
  const s = mem();
  s.batch(() => {
    for (let i = 0; i < 10; i++) s.updateResource(res(`r${i}`));
  });
  const read = readContiguous(s, 0, 100);
  const sent = read.filter((_, i) => i !== 4); // the caller claims a contiguous read but skipped one
  expect(s.outbox.confirm("cluster", sent, 0)).toBe(9);
  expect(s.outbox.rangeFallbacks).toBe(1);
  expect(pending(s)).toEqual([[read[4]!.key, read[4]!.seq, "CREATE"]]);
  expect(s.outbox.stats("cluster")).toMatchObject({ depth: 1, bytes: read[4]!.bytes });
});

test("a range starting before the first entry sent does not delete the rows before it", () => {
  const s = mem();
  s.batch(() => {
    for (let i = 0; i < 6; i++) s.updateResource(res(`r${i}`));
  });
  const read = readContiguous(s, 0, 100);
  expect(s.outbox.confirm("cluster", read.slice(2), 0)).toBe(4); // claims (0, last] but sent from the third
  expect(s.outbox.rangeFallbacks).toBe(1);
  expect(pending(s).map(([k]) => k)).toEqual([read[0]!.key, read[1]!.key]);
});

test("entries not in increasing seq order, duplicates, seq 0 or no bytes take the (key, seq) path; inside a batch the range works", () => {
  const s = mem();
  s.batch(() => {
    for (let i = 0; i < 8; i++) s.updateResource(res(`r${i}`));
  });
  const read = readContiguous(s, 0, 100);
  expect(s.outbox.confirm("cluster", [read[1]!, read[0]!], 0)).toBe(2);
  expect(s.outbox.confirm("cluster", [read[2]!, read[2]!], read[1]!.seq)).toBe(1);
  expect(s.outbox.confirm("cluster", [{ key: read[3]!.key, seq: 0, bytes: read[3]!.bytes }], read[2]!.seq)).toBe(0);
  expect(s.outbox.confirm("cluster", [{ key: read[3]!.key, seq: read[3]!.seq }], read[2]!.seq)).toBe(1);
  expect([s.outbox.rangeConfirms, s.outbox.rangeFallbacks]).toEqual([0, 0]);
  s.updateResource(res("x"));
  let n = 0;
  s.batch(() => {
    n = s.outbox.confirm("cluster", [read[4]!, read[5]!], read[3]!.seq);
    expect(s.outbox.confirm("cluster", [read[7]!], read[5]!.seq)).toBe(1); // read[6] lies in that range and stays
  });
  expect(n).toBe(2);
  expect([s.outbox.rangeConfirms, s.outbox.rangeFallbacks]).toEqual([1, 1]);
  expect(pending(s).map(([k]) => k)).toEqual([read[6]!.key, keyOf("x")]);
  expect(s.outbox.confirm("instance", [read[6]!], read[5]!.seq)).toBe(0); // other channel: nothing
  expect(s.outbox.stats("cluster")).toMatchObject({
    depth: 2,
    bytes: pending(s).length && s.outbox.readRaw("cluster", 0, 9).reduce((a, e) => a + e.bytes, 0),
  });
});

type Op = { k: "put"; n: number; v: number } | { k: "del"; n: number } | { k: "read"; page: number } | { k: "ack" } | { k: "fail" };
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant("put" as const), n: fc.nat(11), v: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("del" as const), n: fc.nat(11) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("read" as const), page: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: "ack" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "fail" as const }) },
);

test("property: writes between contiguous reads, acks by range and failed streams leave the outbox as (key, seq) confirms do", () => {
  fc.assert(
    fc.property(fc.array(arbOp, { maxLength: 80 }), (ops) => {
      const byRange = mem();
      const byPairs = mem();
      // the stream: reads from the cursor; an ack confirms what it read since the last ack; a failure re-reads from 0
      let cursor = 0;
      let streamFrom = 0;
      let inFlight: OutboxRawEntry[] = [];
      const live = new Set<number>();
      for (const op of ops) {
        for (const s of [byRange, byPairs]) {
          if (op.k === "put") s.updateResource(res(`r${op.n}`, `v${op.v}`));
          else if (op.k === "del" && live.has(op.n)) s.deleteResource(refOf(`r${op.n}`));
        }
        if (op.k === "put") live.add(op.n);
        else if (op.k === "del") live.delete(op.n);
        if (op.k === "read") {
          const page = byRange.outbox.readRaw("cluster", cursor, op.page);
          expect(page.map((e) => [e.key, e.seq])).toEqual(byPairs.outbox.readRaw("cluster", cursor, op.page).map((e) => [e.key, e.seq]));
          inFlight.push(...page);
          if (page.length) cursor = page.at(-1)!.seq;
        } else if (op.k === "ack") {
          expect(byRange.outbox.confirm("cluster", inFlight, streamFrom)).toBe(byPairs.outbox.confirm("cluster", inFlight));
          streamFrom = cursor;
          inFlight = [];
        } else if (op.k === "fail") {
          cursor = 0;
          streamFrom = 0;
          inFlight = [];
        }
        expect(pending(byRange)).toEqual(pending(byPairs));
        const [a, b] = [byRange.outbox.stats("cluster"), byPairs.outbox.stats("cluster")];
        expect([a.depth, a.bytes, a.newestSeq]).toEqual([b.depth, b.bytes, b.newestSeq]);
      }
      expect(byRange.outbox.rangeFallbacks).toBe(0);
      for (const s of open.splice(0)) s.close();
    }),
    { numRuns: 200 },
  );
});
