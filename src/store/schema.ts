// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The store's SQLite schema (resources, relationships, outbox, meta) and its append-only migrations,
// versioned by PRAGMA user_version.

import type { Database } from "bun:sqlite";

/**
 * Schema, versioned by PRAGMA user_version. MIGRATIONS[i] takes version i to i+1 and runs in one
 * transaction with the user_version bump. Append only; never edit a shipped step.
 *
 * resources      one row per object; body = resource.v1.Resource bytes (with timestamps).
 *                rowid table (no WITHOUT ROWID: 1 KiB rows spill to overflow pages there).
 * rel_keys       (version 2) the relationships' endpoint keys, interned: kid -> resource key. A key
 *                is removed when its last relationship is.
 * relationships  one row per triple; id = sha256 identity (keys.ts#relationshipId);
 *                body = resource.v1.Relationship bytes; subject/object are rel_keys kids (version 1
 *                held the key text: ~80-140-byte index entries instead of ~10). Indexed by
 *                (subject, object, predicate) and predicate. The identity is not indexed: dedup looks the
 *                triple up through the subject index and compares ids (a unique index on a random
 *                hash costs a random page write per insert). rid is AUTOINCREMENT (never reused)
 *                because the outbox key of a relationship is "rel:<rid>".
 * relationships_by_object  (version 2) a copy of each body clustered by (object, predicate, rid),
 *                WITHOUT ROWID, in place of an object index: an object's rows are adjacent, so a
 *                by-object read touches a few pages instead of one table page per row.
 * outbox         at most one pending entry per (channel, key). seq orders entries; a coalesced entry
 *                gets a fresh seq and moves to the end. seq is a plain column, not the rowid: the
 *                coalescing upsert then rewrites one row in place instead of moving it (3-4 us vs 8). CREATE/UPDATE entries point (rid) at the live
 *                row, so the state sent is always the newest; DELETE entries carry the wire Object.
 *                Depth/bytes per channel are counted in memory (recounted from the table on open,
 *                changed after each commit): triggers keeping a stats table cost 5 us per append.
 * meta           small key/values (resync flags).
 */
export const MIGRATIONS: ReadonlyArray<string> = [
  `
  CREATE TABLE resources(
    rid INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    type TEXT NOT NULL,
    channel TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    body BLOB NOT NULL
  );
  CREATE INDEX resources_type ON resources(type);
  CREATE TABLE relationships(
    rid INTEGER PRIMARY KEY AUTOINCREMENT,
    id BLOB NOT NULL,
    subject_key TEXT NOT NULL,
    object_key TEXT NOT NULL,
    predicate_type TEXT NOT NULL,
    kind TEXT NOT NULL,
    type TEXT NOT NULL,
    channel TEXT NOT NULL,
    body BLOB NOT NULL
  );
  CREATE INDEX relationships_subject ON relationships(subject_key, object_key, predicate_type);
  CREATE INDEX relationships_object ON relationships(object_key, predicate_type);
  CREATE INDEX relationships_predicate ON relationships(predicate_type);
  CREATE TABLE outbox(
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    channel TEXT NOT NULL,
    key TEXT NOT NULL,
    entity INTEGER NOT NULL,
    op INTEGER NOT NULL,
    rid INTEGER,
    body BLOB,
    bytes INTEGER NOT NULL,
    enqueued_at INTEGER NOT NULL,
    UNIQUE(channel, key)
  );
  CREATE INDEX outbox_channel_seq ON outbox(channel, seq);
  CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
  `,
  // 1 -> 2: relationship endpoints interned as integers (rel_keys), and an object-clustered copy of
  // each body (relationships_by_object) in place of the object index, so a by-object read is one
  // range of adjacent pages instead of one table page per row. Rows keep their rid (the outbox's
  // "rel:<rid>" keys) and the AUTOINCREMENT sequence carries over, so no rid is ever reused.
  `
  CREATE TABLE rel_keys(kid INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);
  INSERT INTO rel_keys(key) SELECT subject_key FROM relationships UNION SELECT object_key FROM relationships;
  CREATE TABLE relationships_v2(
    rid INTEGER PRIMARY KEY AUTOINCREMENT,
    id BLOB NOT NULL,
    subject INTEGER NOT NULL,
    object INTEGER NOT NULL,
    predicate_type TEXT NOT NULL,
    kind TEXT NOT NULL,
    type TEXT NOT NULL,
    channel TEXT NOT NULL,
    body BLOB NOT NULL
  );
  INSERT INTO relationships_v2(rid, id, subject, object, predicate_type, kind, type, channel, body)
    SELECT r.rid, r.id, s.kid, o.kid, r.predicate_type, r.kind, r.type, r.channel, r.body
    FROM relationships r JOIN rel_keys s ON s.key = r.subject_key JOIN rel_keys o ON o.key = r.object_key ORDER BY r.rid;
  DELETE FROM sqlite_sequence WHERE name = 'relationships_v2';
  INSERT INTO sqlite_sequence(name, seq) SELECT 'relationships_v2', seq FROM sqlite_sequence WHERE name = 'relationships';
  DROP TABLE relationships;
  ALTER TABLE relationships_v2 RENAME TO relationships;
  CREATE INDEX relationships_subject ON relationships(subject, object, predicate_type);
  CREATE INDEX relationships_predicate ON relationships(predicate_type);
  CREATE TABLE relationships_by_object(
    object INTEGER NOT NULL,
    predicate_type TEXT NOT NULL,
    rid INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY(object, predicate_type, rid)
  ) WITHOUT ROWID;
  INSERT INTO relationships_by_object(object, predicate_type, rid, body) SELECT object, predicate_type, rid, body FROM relationships;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export class SchemaTooNewError extends Error {
  constructor(found: number) {
    super(`store schema version ${found} is newer than this agent's ${SCHEMA_VERSION}`);
    this.name = "SchemaTooNewError";
  }
}

/** Brings the database to SCHEMA_VERSION. Returns the version found. */
export function migrate(db: Database): number {
  const row = db.query("PRAGMA user_version").get() as { user_version: number };
  const found = row.user_version;
  if (found > SCHEMA_VERSION) throw new SchemaTooNewError(found);
  for (let v = found; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.run(MIGRATIONS[v]!);
      db.run(`PRAGMA user_version = ${v + 1}`);
    })();
  }
  return found;
}
