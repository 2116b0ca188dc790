// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

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

/** Finalizes a group of prepared statements (one level of nesting, as prepare*() returns). */
export function finalizeStatements(group: Record<string, Statement | Record<string, Statement>>): void {
  for (const st of Object.values(group)) {
    if (typeof (st as Statement).finalize === "function") (st as Statement).finalize();
    else for (const q of Object.values(st as Record<string, Statement>)) q.finalize();
  }
}
