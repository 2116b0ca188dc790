// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the reconciler's key table: interning, reference counts, reuse of dropped ids, and
// pair ids that unpack exactly up to the largest ids.

import { describe, expect, test } from "bun:test";
import { KeyIds, PairCounts, packPair, pairA, pairB, pairType } from "./key-ids.ts";

describe("KeyIds", () => {
  test("the same key gets the same id while it is retained; released to zero it is dropped and its id reused", () => {
    const ids = new KeyIds();
    const a = ids.intern("k8s.io.api.core.v1.Pod/a");
    const b = ids.intern("k8s.io.api.core.v1.Pod/b");
    expect(a).not.toBe(b);
    expect(ids.intern("k8s.io.api.core.v1.Pod/a")).toBe(a);
    ids.retain(a);
    ids.retain(a);
    ids.retain(b);
    ids.release(a);
    expect(ids.key(a)).toBe("k8s.io.api.core.v1.Pod/a");
    ids.release(a);
    expect(ids.lookup("k8s.io.api.core.v1.Pod/a")).toBeUndefined();
    expect(() => ids.key(a)).toThrow("not interned");
    expect(ids.size).toBe(1);
    const c = ids.intern("k8s.io.api.core.v1.Pod/c");
    expect(c).toBe(a);
    expect(ids.key(c)).toBe("k8s.io.api.core.v1.Pod/c");
    expect(ids.lookup("k8s.io.api.core.v1.Pod/b")).toBe(b);
  });

  test("releaseUnused drops what was interned and never retained, and keeps the rest", () => {
    const ids = new KeyIds();
    const kept = ids.intern("kept");
    ids.retain(kept);
    ids.intern("lookup only");
    ids.releaseUnused();
    expect(ids.size).toBe(1);
    expect(ids.lookup("lookup only")).toBeUndefined();
    expect(ids.lookup("kept")).toBe(kept);
    ids.releaseUnused();
    expect(ids.size).toBe(1);
  });

  test("releasing more often than retained throws", () => {
    const ids = new KeyIds();
    const a = ids.intern("a");
    ids.retain(a);
    ids.retain(a);
    ids.release(a);
    ids.release(a);
    const b = ids.intern("b");
    ids.retain(b);
    ids.retain(b);
    ids.release(b);
    // a's slot was reused by b: one more release than retains of b
    ids.release(b);
    expect(() => ids.release(b)).toThrow();
  });
});

describe("pair ids", () => {
  test("type and both ends unpack exactly, up to the largest ids", () => {
    const max = 2 ** 25 - 1;
    for (const [t, a, b] of [
      [0, 0, 0],
      [5, max, max],
      [3, 1, max],
      [1, max, 0],
      [2, 12345, 67890],
    ] as const) {
      const p = packPair(t, a, b);
      expect(Number.isSafeInteger(p)).toBe(true);
      expect([pairType(p), pairA(p), pairB(p)]).toEqual([t, a, b]);
    }
    expect(packPair(0, 1, 2)).not.toBe(packPair(0, 2, 1));
    expect(packPair(0, 1, 2)).not.toBe(packPair(1, 1, 2));
  });
});

describe("PairCounts", () => {
  test("matches a Map under random sets and deletes, through growth and shrinking", () => {
    const counts = new PairCounts();
    const ref = new Map<number, number>();
    let seed = 42;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    // few distinct ends: many pairs share a home slot's neighbourhood, so deletes shift chains
    const pair = () => packPair(rnd(6), rnd(300), rnd(40));
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 20_000; i++) {
        const p = pair();
        if (rnd(3) === 0) expect(counts.delete(p)).toBe(ref.delete(p));
        else {
          const n = 1 + rnd(5);
          counts.set(p, n);
          ref.set(p, n);
        }
      }
      expect(counts.size).toBe(ref.size);
      for (const [p, n] of ref) expect(counts.get(p)).toBe(n);
      for (let i = 0; i < 2000; i++) {
        const p = pair();
        expect(counts.has(p)).toBe(ref.has(p));
        expect(counts.get(p)).toBe(ref.get(p) ?? 0);
      }
      // drain most of it (shrinks), then the next round grows it again
      for (const p of [...ref.keys()].slice(0, Math.floor(ref.size * 0.95))) {
        expect(counts.delete(p)).toBe(true);
        ref.delete(p);
      }
      expect(counts.size).toBe(ref.size);
      for (const [p, n] of ref) expect(counts.get(p)).toBe(n);
    }
    expect(() => counts.set(packPair(0, 1, 1), 0)).toThrow();
  });
});
