// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Relationship table layouts measured against the store's own (bench/store/run.ts, relationships
// phase): raw bun:sqlite inserts the same rows (copied from the store's file, in the store's
// insertion order) into each layout, 500 per transaction, WAL, synchronous=NORMAL, the store's
// cache size, then reads the bodies of random objects' relationships (100 rows each). Layouts
// alternate within each of three rounds; medians. What each layout costs inserts and buys
// by-object reads, side by side:
//   v1          the store's schema 1 (MIGRATIONS[0]): text keys, indexes (subject, object, predicate),
//               (object, predicate), (predicate); an object's rows sit on ~100 table pages
//   covering    schema 1 with the object index covering the body (object, predicate, rid, body)
//   int_keys    endpoint keys interned in a key table, integer subject/object columns and indexes
//               (narrow index entries: ~10 bytes instead of ~80-140)
//   v2          the store's current schema (every MIGRATION): int_keys plus an object-clustered
//               WITHOUT ROWID copy of each body (object, predicate, rid) -> body, in place of the
//               object index: a by-object read is one range scan of adjacent pages
//   object_clustered  one copy of each row, clustered by (object, predicate, rid) (WITHOUT ROWID),
//               with narrow indexes on rid (the outbox's reference), (subject, object, predicate)
//               and predicate: by-object reads a range, by-subject reads ~10 rows through its index

import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MIGRATIONS } from "../../src/store/schema.ts";

type Row = [
  id: Uint8Array,
  subject: string,
  object: string,
  predicate: string,
  kind: string,
  type: string,
  channel: string,
  body: Uint8Array,
];

const INT_KEYS = `
  CREATE TABLE rel_keys(kid INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);
  CREATE TABLE rels(rid INTEGER PRIMARY KEY AUTOINCREMENT, id BLOB NOT NULL, subject INTEGER NOT NULL, object INTEGER NOT NULL,
    predicate_type TEXT NOT NULL, kind TEXT NOT NULL, type TEXT NOT NULL, channel TEXT NOT NULL, body BLOB NOT NULL);
  CREATE INDEX rels_subject ON rels(subject, object, predicate_type);
  CREATE INDEX rels_predicate ON rels(predicate_type);`;
const BY_OBJECT_INDEX = "CREATE INDEX rels_object ON rels(object, predicate_type);";

const OBJECT_CLUSTERED = `
  CREATE TABLE rel_keys(kid INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);
  CREATE TABLE rels(object INTEGER NOT NULL, predicate_type TEXT NOT NULL, rid INTEGER NOT NULL, id BLOB NOT NULL,
    subject INTEGER NOT NULL, kind TEXT NOT NULL, type TEXT NOT NULL, channel TEXT NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY(object, predicate_type, rid)) WITHOUT ROWID;
  CREATE UNIQUE INDEX rels_rid ON rels(rid);
  CREATE INDEX rels_subject ON rels(subject, object, predicate_type);
  CREATE INDEX rels_predicate ON rels(predicate_type);`;

const LAYOUTS = ["v1", "covering", "int_keys", "v2", "object_clustered"] as const;
type Layout = (typeof LAYOUTS)[number];

function open(path: string, layout: Layout): Database {
  const db = new Database(path, { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run("PRAGMA cache_size = -16384");
  if (layout === "v2") {
    for (const m of MIGRATIONS) db.run(m);
  } else if (layout === "v1" || layout === "covering") {
    db.run(MIGRATIONS[0]!);
    if (layout === "covering") {
      db.run("DROP INDEX relationships_object");
      db.run("CREATE INDEX relationships_object_body ON relationships(object_key, predicate_type, rid, body)");
    }
  } else if (layout === "object_clustered") {
    db.run(OBJECT_CLUSTERED);
  } else {
    db.run(INT_KEYS);
    db.run(BY_OBJECT_INDEX);
  }
  return db;
}

/** Inserts `rows` in batches of `batch`; returns rows per second. */
function insert(db: Database, layout: Layout, rows: Row[], batch: number): number {
  let tx: (a: number, b: number) => void;
  if (layout === "v1" || layout === "covering") {
    const ins = db.prepare(
      "INSERT INTO relationships(id, subject_key, object_key, predicate_type, kind, type, channel, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    tx = db.transaction((a: number, b: number) => {
      for (let i = a; i < b; i++) ins.run(...rows[i]!);
    });
  } else {
    const insClustered = db.prepare(
      layout === "object_clustered"
        ? "INSERT INTO rels(object, predicate_type, rid, id, subject, kind, type, channel, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        : "SELECT 1",
    );
    const table = layout === "v2" ? "relationships" : "rels";
    const keyGet = db.prepare("SELECT kid FROM rel_keys WHERE key = ?");
    const keyIns = db.prepare("INSERT INTO rel_keys(key) VALUES (?)");
    const kid = (key: string): number => {
      const r = keyGet.values(key)[0];
      return r ? (r[0] as number) : Number(keyIns.run(key).lastInsertRowid);
    };
    let nextRid = 1;
    const ins =
      layout === "object_clustered"
        ? {
            run: (...a: [Uint8Array, number, number, string, string, string, string, Uint8Array]) => {
              const rid = nextRid++;
              insClustered.run(a[2], a[3], rid, a[0], a[1], a[4], a[5], a[6], a[7]);
              return { lastInsertRowid: rid };
            },
          }
        : db.prepare(
            `INSERT INTO ${table}(id, subject, object, predicate_type, kind, type, channel, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          );
    const copy =
      layout === "v2"
        ? db.prepare("INSERT INTO relationships_by_object(object, predicate_type, rid, body) VALUES (?, ?, ?, ?)")
        : undefined;
    tx = db.transaction((a: number, b: number) => {
      for (let i = a; i < b; i++) {
        const [id, s, o, p, kind, type, channel, body] = rows[i]!;
        const oid = kid(o);
        const rid = ins.run(id, kid(s), oid, p, kind, type, channel, body).lastInsertRowid;
        copy?.run(oid, p, rid, body);
      }
    });
  }
  const t = performance.now();
  for (let i = 0; i < rows.length; i += batch) tx(i, Math.min(rows.length, i + batch));
  return rows.length / ((performance.now() - t) / 1000);
}

/** Reads the bodies of `n` random objects' relationships; returns p50/p99 in microseconds. */
function reads(db: Database, layout: Layout, objects: string[], n: number): { p50_us: number; p99_us: number; rows: number } {
  const q =
    layout === "v1" || layout === "covering"
      ? db.prepare("SELECT body FROM relationships WHERE object_key = ?")
      : layout === "int_keys"
        ? db.prepare("SELECT body FROM rels WHERE object = (SELECT kid FROM rel_keys WHERE key = ?)")
        : layout === "object_clustered"
          ? db.prepare("SELECT body FROM rels WHERE object = (SELECT kid FROM rel_keys WHERE key = ?)")
          : db.prepare("SELECT body FROM relationships_by_object WHERE object = (SELECT kid FROM rel_keys WHERE key = ?)");
  const t: number[] = [];
  let rows = 0;
  for (let i = 0; i < n; i++) {
    const a = performance.now();
    rows += q.values(objects[(i * 2654435761) % objects.length]!).length;
    t.push((performance.now() - a) * 1000);
  }
  t.sort((a, b) => a - b);
  return { p50_us: +t[n >> 1]!.toFixed(1), p99_us: +t[Math.floor(n * 0.99)]!.toFixed(1), rows: Math.round(rows / n) };
}

/**
 * Copies up to `n` relationship rows of the store file `src` and measures every layout on them:
 * every row of `n / perObject` of its objects, in insertion order, so each object keeps its full
 * fan-out (100 rows in the 1M-triple file) spread over the insertion order as in the store.
 */
export function layoutCost(n: number, perObject: number, src: Database, batch: number) {
  const some = src
    .query("SELECT object FROM relationships_by_object GROUP BY object LIMIT ?")
    .values(Math.ceil(n / perObject))
    .flat();
  const rows = src
    .query(
      `SELECT r.id, s.key, o.key, r.predicate_type, r.kind, r.type, r.channel, r.body FROM relationships r
       JOIN rel_keys s ON s.kid = r.subject JOIN rel_keys o ON o.kid = r.object
       WHERE r.object IN (SELECT value FROM json_each(?)) ORDER BY r.rid LIMIT ?`,
    )
    .values(JSON.stringify(some), n) as Row[];
  const objects = [...new Set(rows.map((r) => r[2]))];
  type Reads = { p50_us: number; p99_us: number; rows: number };
  const ins = Object.fromEntries(LAYOUTS.map((l) => [l, [] as number[]])) as Record<Layout, number[]>;
  const rd = Object.fromEntries(LAYOUTS.map((l) => [l, [] as Reads[]])) as Record<Layout, Reads[]>;
  for (let round = 0; round < 3; round++) {
    const d = mkdtempSync(join(tmpdir(), "store-bench-layout-"));
    try {
      for (const layout of LAYOUTS) {
        const db = open(join(d, `${layout}.db`), layout);
        ins[layout].push(insert(db, layout, rows, batch));
        rd[layout].push(reads(db, layout, objects, 5000));
        db.close();
      }
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
  const base = med(ins.v1);
  return {
    rows: rows.length,
    objects: objects.length,
    layouts: Object.fromEntries(
      LAYOUTS.map((l) => [
        l,
        {
          insert_per_s: Math.round(med(ins[l])),
          insert_over_v1: +(med(ins[l]) / base).toFixed(2),
          by_object_p50_us: med(rd[l].map((r) => r.p50_us)),
          by_object_p99_us: med(rd[l].map((r) => r.p99_us)),
          rows_per_object: rd[l][0]!.rows,
          insert_runs: ins[l].map(Math.round),
        },
      ]),
    ),
  };
}
