// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The outbox's confirmed-up-to seq on a real store file: a range confirm moves it and keeps done
// rows; after a reopen the counts, reads and new seqs respect it (also when no row is left above
// it), the caps trim only pending entries, relationships' confirmed deletes leave no row, a
// channel without a consumer loses its done rows too, and a file written before the mark existed
// (the schema-1 fixture, its entries all pending) drains by it.

import { afterEach, expect, test } from "bun:test";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Channel } from "../../src/graph/names.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { openStore, type SqliteStore, storePath } from "../../src/store/index.ts";
import type { OutboxRawEntry } from "../../src/store/types.ts";
import { contains, kubeRef, POD, resource, tempDir } from "./fixtures.ts";

const CH = "cluster";
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});
function dir(): string {
  const t = tempDir("outbox-upto-");
  cleanups.push(t.cleanup);
  return t.dir;
}
function open(d: string, opts: { outboxMaxEntries?: number; outboxChannels?: Channel[] } = {}): SqliteStore {
  const s = openStore({ dataDirectory: d, logger: silentLogger, ...opts }) as SqliteStore;
  cleanups.push(() => s.close());
  return s;
}
/** Everything pending, read the way a stream does (pages, each after the previous page's last seq). */
function readAll(s: SqliteStore): OutboxRawEntry[] {
  const out: OutboxRawEntry[] = [];
  for (let after = 0; ; ) {
    const page = s.outbox.readRaw(CH, after, 7);
    if (page.length === 0) return out;
    out.push(...page);
    after = page.at(-1)!.seq;
  }
}
/** Reads and confirms everything pending as one acknowledged stream (range (0, last]). */
function drain(s: SqliteStore): number {
  const all = readAll(s);
  return all.length === 0 ? 0 : s.outbox.confirm(CH, all, 0);
}
const rows = (s: SqliteStore) =>
  s.db.query("SELECT count(*) AS n, coalesce(sum(op = 2), 0) AS deletes FROM outbox WHERE channel = ?").get(CH) as {
    n: number;
    deletes: number;
  };
const upTo = (s: SqliteStore) =>
  (s.db.query("SELECT CAST(v AS INTEGER) AS u FROM meta WHERE k = ?").get(`confirmed:${CH}`) as { u: number } | null)?.u ?? 0;
const pod = (name: string, region = "") => resource(POD, name, region, 256);

test("a range confirm moves the confirmed-up-to seq; after a reopen counts, reads, ops and new seqs follow it", () => {
  const d = dir();
  let s = open(d);
  s.batch(() => {
    for (let i = 0; i < 20; i++) s.updateResource(pod(`p${i}`));
  });
  expect(drain(s)).toBe(20);
  expect(s.outbox.upToConfirms).toBe(1);
  expect(rows(s)).toEqual({ n: 20, deletes: 0 }); // done rows stay
  expect(s.outbox.stats(CH)).toMatchObject({ depth: 0, bytes: 0, oldestEnqueuedAt: undefined, newestSeq: undefined });
  s.updateResource(pod("p1", "v2"));
  s.deleteResource(kubeRef(POD, "p2"));
  s.updateResource(pod("p20"));
  s.close();

  s = open(d);
  const pending = readAll(s);
  expect(pending.map((e) => e.op)).toEqual(["UPDATE", "DELETE", "CREATE"]);
  expect(s.outbox.stats(CH)).toMatchObject({ depth: 3, bytes: pending.reduce((a, e) => a + e.bytes, 0), newestSeq: pending[2]!.seq });
  expect(pending[0]!.seq).toBeGreaterThan(upTo(s));
  expect(rows(s)).toEqual({ n: 21, deletes: 1 });
  expect(drain(s)).toBe(3);
  expect(rows(s)).toEqual({ n: 20, deletes: 0 }); // the confirmed DELETE's row is gone
  expect(s.outbox.stats(CH).depth).toBe(0);

  // every row deleted: nothing above the mark is left in the table, yet new seqs start above it
  s.batch(() => {
    for (let i = 0; i <= 20; i++) if (i !== 2) s.deleteResource(kubeRef(POD, `p${i}`));
  });
  expect(drain(s)).toBe(20);
  expect(rows(s)).toEqual({ n: 0, deletes: 0 });
  const mark = upTo(s);
  s.close();
  s = open(d);
  expect(s.outbox.stats(CH).depth).toBe(0);
  s.updateResource(pod("fresh"));
  const fresh = readAll(s);
  expect(fresh).toHaveLength(1);
  expect(fresh[0]!.seq).toBeGreaterThan(mark);
  expect(fresh[0]!.op).toBe("CREATE");
});

test("relationships: a confirmed CREATE stays as a done row, its confirmed DELETE leaves none", () => {
  const s = open(dir());
  s.batch(() => {
    for (let i = 0; i < 5; i++) {
      s.updateResource(pod(`a${i}`));
      s.addRelationships(contains(kubeRef(POD, `a${i}`), kubeRef(POD, "hub")));
    }
  });
  expect(drain(s)).toBe(10);
  expect(rows(s)).toEqual({ n: 10, deletes: 0 });
  s.deleteRelationships(contains(kubeRef(POD, "a0"), kubeRef(POD, "hub")));
  s.deleteResource(kubeRef(POD, "a1")); // and its relationship
  const pending = readAll(s);
  expect(pending.map((e) => e.op)).toEqual(["DELETE", "DELETE", "DELETE"]);
  expect(drain(s)).toBe(3);
  expect(rows(s)).toEqual({ n: 7, deletes: 0 });
});

test("past a cap only pending entries are dropped; done rows stay and the counts stay exact after a reopen", () => {
  const d = dir();
  let s = open(d, { outboxMaxEntries: 10 });
  s.batch(() => {
    for (let i = 0; i < 8; i++) s.updateResource(pod(`old${i}`));
  });
  expect(drain(s)).toBe(8);
  s.batch(() => {
    for (let i = 0; i < 15; i++) s.updateResource(pod(`new${i}`));
  });
  const st = s.outbox.stats(CH);
  expect(st.depth).toBeLessThanOrEqual(10);
  expect(s.outbox.needsResync(CH)).toBe(true);
  expect(rows(s).n).toBe(8 + st.depth); // the 8 done rows are not what the cap dropped
  s.close();
  s = open(d, { outboxMaxEntries: 10 });
  expect(s.outbox.stats(CH)).toMatchObject({ depth: st.depth, bytes: st.bytes });
  expect(readAll(s)).toHaveLength(st.depth);
});

test("a channel without a consumer loses its done rows on open; recorded again, its seqs stay above the old mark", () => {
  const d = dir();
  let s = open(d);
  s.batch(() => {
    for (let i = 0; i < 6; i++) s.updateResource(pod(`p${i}`));
  });
  expect(drain(s)).toBe(6);
  const mark = upTo(s);
  s.close();
  s = open(d, { outboxChannels: ["instance"] });
  expect(rows(s).n).toBe(0);
  s.updateResource(pod("p0", "v2")); // not recorded
  s.close();
  s = open(d);
  s.updateResource(pod("p1", "v2"));
  const pending = readAll(s);
  expect(pending).toHaveLength(1);
  expect(pending[0]!.op).toBe("UPDATE"); // the store's op (the object existed); its done row was dropped
  expect(pending[0]!.seq).toBeGreaterThan(mark);
});

test("a file from before the mark (schema-1 fixture, every entry pending) drains by it and reopens with nothing pending", () => {
  const d = dir();
  mkdirSync(join(d, "resource"), { recursive: true });
  copyFileSync(join(import.meta.dir, "../fixtures/store/v1-store.db"), storePath(d));
  let s = open(d);
  const before = s.outbox.stats(CH);
  expect(before.depth).toBeGreaterThan(10);
  expect(upTo(s)).toBe(0);
  const all = readAll(s);
  expect(all).toHaveLength(before.depth);
  const deletes = all.filter((e) => e.op === "DELETE").length;
  expect(s.outbox.confirm(CH, all, 0)).toBe(before.depth);
  expect(s.outbox.upToConfirms).toBe(1);
  expect(rows(s)).toEqual({ n: before.depth - deletes, deletes: 0 });
  s.close();
  s = open(d);
  expect(s.outbox.stats(CH).depth).toBe(0);
  expect(readAll(s)).toEqual([]);
});
