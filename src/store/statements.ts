// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Every SQL statement of the store (tables and outbox), prepared once at open.

import type { Database, Statement } from "bun:sqlite";

/** The resource and relationship tables' statements, prepared once at open (bun#28911). */
export function prepareTables(db: Database) {
  const relCols = "body, id, subject_key, object_key, predicate_type";
  return {
    resGet: db.prepare("SELECT rid, created_at, updated_at, body, type, channel FROM resources WHERE key = ?"),
    resInsert: db.prepare("INSERT INTO resources(key, kind, type, channel, created_at, updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)"),
    resUpdate: db.prepare("UPDATE resources SET kind = ?, type = ?, channel = ?, updated_at = ?, body = ? WHERE rid = ?"),
    resDelete: db.prepare("DELETE FROM resources WHERE rid = ?"),
    resAll: db.prepare("SELECT key, kind, type, body FROM resources ORDER BY key"),
    resByType: db.prepare("SELECT key, kind, type, body FROM resources WHERE type = ? OR (type >= ? AND type < ?) ORDER BY key"),
    relFind: db.prepare(
      "SELECT rid, body, kind, type, channel, id FROM relationships WHERE subject_key = ? AND object_key = ? AND predicate_type = ?",
    ),
    relInsert: db.prepare(
      "INSERT INTO relationships(id, subject_key, object_key, predicate_type, kind, type, channel, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    relDelete: db.prepare("DELETE FROM relationships WHERE rid = ?"),
    relBySubjectRows: db.prepare("SELECT rid, body, kind, type, channel, id FROM relationships WHERE subject_key = ?"),
    relByObjectRows: db.prepare("SELECT rid, body, kind, type, channel, id FROM relationships WHERE object_key = ?"),
    relAll: db.prepare("SELECT kind, type, body FROM relationships ORDER BY rid"),
    relByType: db.prepare("SELECT rid, kind, type, body FROM relationships WHERE type = ? OR (type >= ? AND type < ?)"),
    // body only; the subject index is the more selective one (a pod has ~10 edges, a node ~100)
    relBodies: {
      all: db.prepare("SELECT body FROM relationships ORDER BY rid"),
      s: db.prepare("SELECT body FROM relationships INDEXED BY relationships_subject WHERE subject_key = ?"),
      o: db.prepare("SELECT body FROM relationships INDEXED BY relationships_object WHERE object_key = ?"),
      p: db.prepare("SELECT body FROM relationships WHERE predicate_type = ?"),
      so: db.prepare("SELECT body FROM relationships INDEXED BY relationships_subject WHERE subject_key = ? AND object_key = ?"),
      sp: db.prepare("SELECT body FROM relationships INDEXED BY relationships_subject WHERE subject_key = ? AND predicate_type = ?"),
      op: db.prepare("SELECT body FROM relationships INDEXED BY relationships_object WHERE object_key = ? AND predicate_type = ?"),
      sop: db.prepare(
        "SELECT body FROM relationships INDEXED BY relationships_subject WHERE subject_key = ? AND predicate_type = ? AND object_key = ?",
      ),
    },
    relQuery: {
      all: db.prepare(`SELECT ${relCols} FROM relationships ORDER BY rid`),
      s: db.prepare(`SELECT ${relCols} FROM relationships WHERE subject_key = ?`),
      o: db.prepare(`SELECT ${relCols} FROM relationships WHERE object_key = ?`),
      p: db.prepare(`SELECT ${relCols} FROM relationships WHERE predicate_type = ?`),
      so: db.prepare(`SELECT ${relCols} FROM relationships WHERE subject_key = ? AND object_key = ?`),
      sp: db.prepare(`SELECT ${relCols} FROM relationships WHERE subject_key = ? AND predicate_type = ?`),
      op: db.prepare(`SELECT ${relCols} FROM relationships WHERE object_key = ? AND predicate_type = ?`),
      sop: db.prepare(`SELECT ${relCols} FROM relationships WHERE subject_key = ? AND predicate_type = ? AND object_key = ?`),
    },
  } satisfies Record<string, Statement | Record<string, Statement>>;
}

export type TableStatements = ReturnType<typeof prepareTables>;

/** The outbox's statements, prepared once at open (bun#28911). */
export function prepareOutbox(db: Database) {
  return {
    obUpsert: db.prepare(
      `INSERT INTO outbox(seq, channel, key, entity, op, rid, body, bytes, enqueued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(channel, key) DO UPDATE SET
         seq = excluded.seq,
         op = CASE WHEN outbox.op = 0 AND excluded.op = 1 THEN 0 ELSE excluded.op END,
         entity = excluded.entity, rid = excluded.rid, body = excluded.body,
         bytes = excluded.bytes, enqueued_at = excluded.enqueued_at`,
    ),
    obPrevBytes: db.prepare("SELECT bytes FROM outbox WHERE channel = ? AND key = ?"),
    obInsert: db.prepare(
      `INSERT INTO outbox(seq, channel, key, entity, op, rid, body, bytes, enqueued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(channel, key) DO NOTHING`,
    ),
    obRead: db.prepare(
      `SELECT o.seq, o.key, o.entity, o.op, o.body, o.bytes, o.enqueued_at,
              r.kind, r.type, r.body, l.kind, l.type, l.body
       FROM outbox o
       LEFT JOIN resources r ON o.entity = 0 AND r.rid = o.rid
       LEFT JOIN relationships l ON o.entity = 1 AND l.rid = o.rid
       WHERE o.channel = ? AND o.seq > ? ORDER BY o.seq LIMIT ?`,
    ),
    // One statement for a whole chunk: the (key, seq) pairs come as a JSON array bound as one
    // parameter (fixed SQL text, prepared once). json_each drives the loop; each pair is looked up
    // through UNIQUE(channel, key) and deleted only when its seq still matches.
    obConfirmMany: db.prepare(
      `DELETE FROM outbox WHERE id IN (
         SELECT o.id FROM json_each(?) AS j CROSS JOIN outbox AS o
         WHERE o.channel = ? AND o.key = j.value ->> 0 AND o.seq = j.value ->> 1
       ) RETURNING bytes`,
    ),
    obCounts: db.prepare("SELECT channel, count(*), coalesce(sum(bytes), 0), max(seq) FROM outbox GROUP BY channel"),
    obOldest: db.prepare("SELECT enqueued_at FROM outbox WHERE channel = ? ORDER BY seq LIMIT 1"),
    obNewest: db.prepare("SELECT seq FROM outbox WHERE channel = ? ORDER BY seq DESC LIMIT 1"),
    obTrim: db.prepare("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE channel = ? ORDER BY seq LIMIT ?) RETURNING bytes"),
    obResyncChannels: db.prepare("SELECT substr(k, 8) FROM meta WHERE k >= 'resync:' AND k < 'resync;'"),
    metaGet: db.prepare("SELECT v FROM meta WHERE k = ?"),
    metaSet: db.prepare("INSERT INTO meta(k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v"),
    metaDel: db.prepare("DELETE FROM meta WHERE k = ?"),
    snapRes: db.prepare("SELECT rid, key, kind, type, body FROM resources WHERE channel = ? AND rid > ? ORDER BY rid LIMIT ?"),
    snapRel: db.prepare("SELECT rid, id, kind, type, body FROM relationships WHERE channel = ? AND rid > ? ORDER BY rid LIMIT ?"),
  } satisfies Record<string, Statement>;
}

export type OutboxStatements = ReturnType<typeof prepareOutbox>;

export type ObRow = [
  seq: number,
  key: string,
  entity: number,
  op: number,
  body: Uint8Array | null,
  bytes: number,
  enqueuedAt: number,
  rKind: string | null,
  rType: string | null,
  rBody: Uint8Array | null,
  lKind: string | null,
  lType: string | null,
  lBody: Uint8Array | null,
];

/** Finalizes a group of prepared statements (one level of nesting, as prepare*() returns). */
export function finalizeStatements(group: Record<string, Statement | Record<string, Statement>>): void {
  for (const st of Object.values(group)) {
    if (typeof (st as Statement).finalize === "function") (st as Statement).finalize();
    else for (const q of Object.values(st as Record<string, Statement>)) q.finalize();
  }
}
