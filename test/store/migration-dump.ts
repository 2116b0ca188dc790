// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// What a store answers, as JSON-able data: every relationship query (rows and decoded objects, in
// order), the outbox of every channel and the rid sequence. The schema-1 fixture was made with the
// agent of schema 1 (test/fixtures/store/make-v1.ts) and its dump saved; the migration test compares
// the migrated store's dump with it.

import type { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import { RelationshipSchema } from "../../src/proto/gen/resource/v1/relationship_pb.ts";
import { decodeResourceKey, type RelationshipKeyQuery, type SqliteStore } from "../../src/store/index.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
/** A body in a query's answer, by digest (the answers repeat each body many times). */
const digest = (b: Uint8Array) => createHash("sha256").update(b).digest("hex").slice(0, 24);

/** Every query shape over every key and predicate the store holds (and one absent key). */
export function queries(store: SqliteStore): RelationshipKeyQuery[] {
  const rows = store.relationshipRows();
  const subjects = [...new Set(rows.map((r) => r[2]))].sort();
  const objects = [...new Set(rows.map((r) => r[3]))].sort();
  const preds = [...new Set(rows.map((r) => r[4]))].sort();
  const out: RelationshipKeyQuery[] = [{}, { subjectKey: "absent/key" }, { objectKey: "absent/key" }];
  for (const s of subjects) out.push({ subjectKey: s });
  for (const o of objects) out.push({ objectKey: o });
  for (const p of preds) out.push({ predicate: p });
  for (const [, , s, o, p] of rows) {
    out.push({ subjectKey: s, objectKey: o }, { subjectKey: s, predicate: p }, { objectKey: o, predicate: p });
    out.push({ subjectKey: s, objectKey: o, predicate: p });
  }
  return out;
}

export function dumpStore(store: SqliteStore, db: Database) {
  const rel = queries(store).map((q) => ({
    q,
    rows: store.relationshipRows(q).map(([body, id, s, o, p]) => [digest(body), hex(id).slice(0, 16), s, o, p]),
    found: store
      .findRelationships({
        subject: q.subjectKey && q.subjectKey !== "absent/key" ? decodeResourceKey(q.subjectKey) : undefined,
        object: q.objectKey && q.objectKey !== "absent/key" ? decodeResourceKey(q.objectKey) : undefined,
        predicate: q.predicate,
      })
      .map((r) => digest(toBinary(RelationshipSchema, r))),
  }));
  const outbox = Object.fromEntries(
    ["cluster", "instance"].map((ch) => [
      ch,
      {
        stats: store.outbox.stats(ch),
        resync: store.outbox.needsResync(ch),
        raw: store.outbox.readRaw(ch, 0, 10_000).map((e) => ({
          ...e,
          encoded: e.encoded && hex(e.encoded),
          value: e.value && hex(e.value),
        })),
      },
    ]),
  );
  const seq = db.query("SELECT seq FROM sqlite_sequence WHERE name = 'relationships'").values()[0]?.[0];
  return { counts: store.counts(), relationshipSeq: seq, rel, outbox };
}
