// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Every SQL statement of the store (tables and outbox), prepared once at open.

import type { Database, Statement } from "bun:sqlite";

/** The resource and relationship tables' statements, prepared once at open (bun#28911). */
export function prepareTables(db: Database) {
  // an endpoint key's kid; NULL (matching no row) when the key has no relationship
  const kid = "(SELECT kid FROM rel_keys WHERE key = ?)";
  const row = "r.rid, r.body, r.kind, r.type, r.channel, r.id, r.subject, r.object, r.predicate_type";
  // the `store` command's columns, and the orders of version 1's indexes: (subject, object key,
  // predicate, rid), (object, predicate, rid), (predicate, rid)
  const cli =
    "SELECT r.body, r.id, s.key, o.key, r.predicate_type FROM relationships r JOIN rel_keys s ON s.kid = r.subject JOIN rel_keys o ON o.kid = r.object";
  const bySubject = "ORDER BY o.key, r.predicate_type, r.rid";
  const byObject = "ORDER BY c.predicate_type, c.rid";
  // [bodies concatenated, their lengths "n,n,..."] of the rows of `sql` (one column, body), in its
  // order: an ORDER BY inside the aggregate would sort again in a temporary B-tree (~40 us for 100
  // rows); the ordered subquery is not flattened into an aggregate, so its rows come in order
  const concat = (sql: string) => db.prepare(`SELECT cast(group_concat(body, x'') AS BLOB), group_concat(length(body)) FROM (${sql})`);
  const cliByObject = `SELECT r.body, r.id, s.key, o.key, r.predicate_type FROM relationships_by_object c CROSS JOIN relationships r ON r.rid = c.rid
    JOIN rel_keys s ON s.kid = r.subject JOIN rel_keys o ON o.kid = r.object`;
  return {
    resGet: db.prepare("SELECT rid, created_at, updated_at, body, type, channel FROM resources WHERE key = ?"),
    resInsert: db.prepare("INSERT INTO resources(key, kind, type, channel, created_at, updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)"),
    resUpdate: db.prepare("UPDATE resources SET kind = ?, type = ?, channel = ?, updated_at = ?, body = ? WHERE rid = ?"),
    resDelete: db.prepare("DELETE FROM resources WHERE rid = ?"),
    resAll: db.prepare("SELECT key, kind, type, body FROM resources ORDER BY key"),
    resByType: db.prepare("SELECT key, kind, type, body FROM resources WHERE type = ? OR (type >= ? AND type < ?) ORDER BY key"),
    // instr on two BLOBs is a byte search done inside SQLite: only matching bodies are read into JavaScript
    resAllContaining: db.prepare("SELECT key, kind, type, body FROM resources WHERE instr(body, ?) > 0 ORDER BY key"),
    resByTypeContaining: db.prepare(
      "SELECT key, kind, type, body FROM resources WHERE (type = ? OR (type >= ? AND type < ?)) AND instr(body, ?) > 0 ORDER BY key",
    ),
    keyGet: db.prepare("SELECT kid FROM rel_keys WHERE key = ?"),
    keyInsert: db.prepare("INSERT INTO rel_keys(key) VALUES (?)"),
    keyUsed: db.prepare(
      "SELECT EXISTS(SELECT 1 FROM relationships WHERE subject = ?) OR EXISTS(SELECT 1 FROM relationships_by_object WHERE object = ?)",
    ),
    keyDelete: db.prepare("DELETE FROM rel_keys WHERE kid = ?"),
    relFind: db.prepare(`SELECT ${row} FROM relationships r WHERE r.subject = ? AND r.object = ? AND r.predicate_type = ?`),
    relInsert: db.prepare(
      "INSERT INTO relationships(id, subject, object, predicate_type, kind, type, channel, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    relCopyInsert: db.prepare("INSERT INTO relationships_by_object(object, predicate_type, rid, body) VALUES (?, ?, ?, ?)"),
    relDelete: db.prepare("DELETE FROM relationships WHERE rid = ?"),
    relCopyDelete: db.prepare("DELETE FROM relationships_by_object WHERE object = ? AND predicate_type = ? AND rid = ?"),
    relBySubjectRows: db.prepare(`SELECT ${row} FROM relationships r WHERE r.subject = ${kid}`),
    relByObjectRows: db.prepare(
      `SELECT ${row} FROM relationships_by_object c CROSS JOIN relationships r ON r.rid = c.rid WHERE c.object = ${kid}`,
    ),
    relAll: db.prepare("SELECT kind, type, body FROM relationships ORDER BY rid"),
    relByType: db.prepare("SELECT rid, kind, type, body FROM relationships WHERE type = ? OR (type >= ? AND type < ?)"),
    // bodies only; the subject index is the more selective one (a pod has ~10 edges, a node ~100).
    // By endpoint: one row, every body concatenated in order and their lengths (decodeRelationships),
    // one buffer instead of one per row; by predicate and all (no bound on the rows): a row per body
    relBodies: {
      all: db.prepare("SELECT body FROM relationships ORDER BY rid"),
      s: concat(
        `SELECT r.body FROM relationships r INDEXED BY relationships_subject JOIN rel_keys o ON o.kid = r.object WHERE r.subject = ${kid} ${bySubject}`,
      ),
      o: concat(`SELECT c.body FROM relationships_by_object c WHERE c.object = ${kid} ${byObject}`),
      p: db.prepare("SELECT body FROM relationships INDEXED BY relationships_predicate WHERE predicate_type = ? ORDER BY rid"),
      so: concat(
        `SELECT r.body FROM relationships r INDEXED BY relationships_subject WHERE r.subject = ${kid} AND r.object = ${kid} ORDER BY r.predicate_type, r.rid`,
      ),
      sp: concat(
        `SELECT r.body FROM relationships r INDEXED BY relationships_subject JOIN rel_keys o ON o.kid = r.object
         WHERE r.subject = ${kid} AND r.predicate_type = ? ${bySubject}`,
      ),
      op: concat(`SELECT c.body FROM relationships_by_object c WHERE c.object = ${kid} AND c.predicate_type = ? ${byObject}`),
      sop: concat(
        `SELECT r.body FROM relationships r INDEXED BY relationships_subject WHERE r.subject = ${kid} AND r.predicate_type = ? AND r.object = ${kid} ORDER BY r.rid`,
      ),
    },
    // [body, id, subject key, object key, predicate] for the `store` command, in the same orders
    relQuery: {
      all: db.prepare(`${cli} ORDER BY r.rid`),
      s: db.prepare(`${cli} WHERE r.subject = ${kid} ${bySubject}`),
      o: db.prepare(`${cliByObject} WHERE c.object = ${kid} ${byObject}`),
      p: db.prepare(`${cli} WHERE r.predicate_type = ? ORDER BY r.rid`),
      so: db.prepare(`${cli} WHERE r.subject = ${kid} AND r.object = ${kid} ORDER BY r.predicate_type, r.rid`),
      sp: db.prepare(`${cli} WHERE r.subject = ${kid} AND r.predicate_type = ? ${bySubject}`),
      op: db.prepare(`${cliByObject} WHERE c.object = ${kid} AND c.predicate_type = ? ${byObject}`),
      sop: db.prepare(`${cli} WHERE r.subject = ${kid} AND r.predicate_type = ? AND r.object = ${kid} ORDER BY r.rid`),
    },
  } satisfies Record<string, Statement | Record<string, Statement>>;
}

export type TableStatements = ReturnType<typeof prepareTables>;

/** The outbox's statements, prepared once at open (bun#28911). */
export function prepareOutbox(db: Database) {
  return {
    // an object's row: pending (seq above the channel's confirmed-up-to seq) or done; the append
    // rewrites it in place by id
    obPrev: db.prepare("SELECT id, bytes, seq, op FROM outbox WHERE channel = ? AND key = ?"),
    obUpdate: db.prepare("UPDATE outbox SET seq = ?, entity = ?, op = ?, rid = ?, body = ?, bytes = ?, enqueued_at = ? WHERE id = ?"),
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
       ) RETURNING bytes, seq`,
    ),
    // Confirm of a range the consumer read contiguously (outbox.ts#confirm with readAfter): the seqs
    // still in the range (covering (channel, seq) index scan) for the check against what was sent,
    // then the delete over the same index. Cheaper than DELETE ... RETURNING (~0.5 us per entry).
    obRangeSeqs: db.prepare("SELECT seq FROM outbox WHERE channel = ? AND seq > ? AND seq <= ? ORDER BY seq"),
    obConfirmRange: db.prepare("DELETE FROM outbox WHERE channel = ? AND seq > ? AND seq <= ?"),
    // a confirmed DELETE entry's row (the watermark confirm keeps done CREATE/UPDATE rows, not deletes)
    obDeleteSeq: db.prepare("DELETE FROM outbox WHERE channel = ? AND seq = ?"),
    // per channel on open: pending entries (above the confirmed-up-to seq), their bytes, the highest seq of any row
    obCounts: db.prepare(
      `SELECT o.channel, coalesce(sum(o.seq > coalesce(w.upto, 0)), 0),
              coalesce(sum(CASE WHEN o.seq > coalesce(w.upto, 0) THEN o.bytes ELSE 0 END), 0), max(o.seq)
       FROM outbox o
       LEFT JOIN (SELECT substr(k, 11) AS channel, CAST(v AS INTEGER) AS upto FROM meta WHERE k >= 'confirmed:' AND k < 'confirmed;') w
         ON w.channel = o.channel
       GROUP BY o.channel`,
    ),
    obConfirmedUpTo: db.prepare("SELECT substr(k, 11), CAST(v AS INTEGER) FROM meta WHERE k >= 'confirmed:' AND k < 'confirmed;'"),
    obOldest: db.prepare("SELECT enqueued_at FROM outbox WHERE channel = ? AND seq > ? ORDER BY seq LIMIT 1"),
    obNewest: db.prepare("SELECT seq FROM outbox WHERE channel = ? ORDER BY seq DESC LIMIT 1"),
    obTrim: db.prepare(
      "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE channel = ? AND seq > ? ORDER BY seq LIMIT ?) RETURNING bytes",
    ),
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
