// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Opening a store file written at schema version 1 (before the covering object index): it is
// migrated in place, keeps every resource, relationship and outbox entry, and lookups by object
// read through the new index with the same answers.

import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { silentLogger } from "../../src/log/logger.ts";
import { openStore, storePath } from "../../src/store/index.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "../../src/store/schema.ts";
import { contains, kubeRef, NODE, POD, resource, tempDir } from "./fixtures.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** A version-1 store file with data: the version-1 DDL, filled through SQL as the version-1 agent wrote it. */
function versionOneFile(): { dir: string; file: string } {
  const t = tempDir();
  cleanups.push(t.cleanup);
  // Let the current store write resources, relationships and outbox rows, then put the file back
  // to version 1's exact schema (the tables are unchanged between 1 and 2; only an index differs).
  const s = openStore({ dataDirectory: t.dir, logger: silentLogger });
  s.addResource(resource(POD, "p1"));
  s.addResource(resource(NODE, "n1"));
  s.addRelationships(contains(kubeRef(POD, "p1"), kubeRef(NODE, "n1")), contains(kubeRef(POD, "p2"), kubeRef(NODE, "n1")));
  s.close();
  const file = storePath(t.dir);
  const db = new Database(file);
  db.run("DROP INDEX relationships_object_body");
  db.run("CREATE INDEX relationships_object ON relationships(object_key, predicate_type)");
  db.run("PRAGMA user_version = 1");
  db.close();
  return { dir: t.dir, file };
}

function indexes(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'relationships' ORDER BY name").values() as string[][]).map(
      (r) => r[0]!,
    );
  } finally {
    db.close();
  }
}

test("a version-1 file is migrated on open: data kept, the object index covers the body", () => {
  expect(SCHEMA_VERSION).toBe(2);
  expect(MIGRATIONS[0]).toContain("CREATE INDEX relationships_object ON relationships(object_key, predicate_type)");
  const { dir, file } = versionOneFile();
  expect(indexes(file)).toContain("relationships_object");

  const s = openStore({ dataDirectory: dir, logger: silentLogger });
  try {
    expect((s.db.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(2);
    expect(indexes(file)).toEqual(["relationships_object_body", "relationships_predicate", "relationships_subject"]);
    expect(s.counts()).toMatchObject({ resources: 2, relationships: 2 });
    expect(s.outbox.stats("cluster").depth).toBe(4);
    const byObject = s.getRelationships(undefined, kubeRef(NODE, "n1"));
    expect(byObject.map((r) => r.subject?.name)).toEqual(["p1", "p2"]);
    const plan = s.db
      .query("EXPLAIN QUERY PLAN SELECT body FROM relationships INDEXED BY relationships_object_body WHERE object_key = ?")
      .values("x") as unknown[][];
    expect(String(plan.map((r) => r[3]))).toContain("COVERING INDEX relationships_object_body");
    // writes after the migration go through the new index too
    s.addRelationships(contains(kubeRef(POD, "p3"), kubeRef(NODE, "n1")));
    expect(s.getRelationships(undefined, kubeRef(NODE, "n1")).map((r) => r.subject?.name)).toEqual(["p1", "p2", "p3"]);
  } finally {
    s.close();
  }
});
