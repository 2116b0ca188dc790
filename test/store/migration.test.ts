// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// A store file of schema 1 (written by the agent of schema 1: test/fixtures/store/make-v1.ts) opened
// by this agent: migrated in place, every query and the outbox answering exactly as before, and
// writes continuing (no rid reused, cascades and key clean-up on the migrated rows).

import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../../src/log/logger.ts";
import { runStoreCommand } from "../../src/store/cli.ts";
import { encodeResourceKey, openStore, type SqliteStore, storePath } from "../../src/store/index.ts";
import { SCHEMA_VERSION } from "../../src/store/schema.ts";
import { contains, kubeRef, tempDir } from "./fixtures.ts";
import { dumpStore } from "./migration-dump.ts";

const FIXTURE = join(import.meta.dir, "../fixtures/store");
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function v1Copy(): string {
  const { dir, cleanup } = tempDir("store-migrate-");
  cleanups.push(cleanup);
  mkdirSync(join(dir, "resource"), { recursive: true });
  copyFileSync(join(FIXTURE, "v1-store.db"), storePath(dir));
  return dir;
}

const version = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  } finally {
    db.close();
  }
};

test("a schema-1 file migrates on open and answers every query and the outbox exactly as schema 1 did", () => {
  const dir = v1Copy();
  expect(version(storePath(dir))).toBe(1);
  const expected = JSON.parse(readFileSync(join(FIXTURE, "v1-dump.json"), "utf8"));
  const store = openStore({ dataDirectory: dir, logger: silentLogger }) as SqliteStore;
  try {
    expect(SCHEMA_VERSION).toBe(2);
    expect(version(storePath(dir))).toBe(2);
    const got = dumpStore(store, store.db);
    expect(got.rel.length).toBeGreaterThan(100);
    expect(JSON.parse(JSON.stringify(got))).toEqual(expected);
    // the migrated layout: endpoints interned, one by-object copy per row
    const n = (sql: string) => store.db.query(sql).values()[0]![0] as number;
    expect(n("SELECT count(*) FROM relationships_by_object")).toBe(expected.counts.relationships);
    expect(n("SELECT count(*) FROM rel_keys")).toBe(
      n("SELECT count(*) FROM (SELECT subject FROM relationships UNION SELECT object FROM relationships)"),
    );
    expect(store.db.query("PRAGMA integrity_check").values()).toEqual([["ok"]]);
  } finally {
    store.close();
  }
});

test("after the migration: new rids continue past the old sequence, cascades and key clean-up work, reopen keeps version 2", async () => {
  const dir = v1Copy();
  const expected = JSON.parse(readFileSync(join(FIXTURE, "v1-dump.json"), "utf8"));
  let store = openStore({ dataDirectory: dir, logger: silentLogger }) as SqliteStore;
  const pod0 = kubeRef("k8s.io.api.core.v1.Pod", "pod-0", "ns0");
  const fresh = kubeRef("k8s.io.api.core.v1.Node", "node-new", "");
  store.outbox.confirm("cluster", store.outbox.read("cluster", 0, 10_000));
  store.addRelationships(contains(pod0, fresh));
  const [entry] = store.outbox.read("cluster", 0, 10);
  expect(entry!.key).toBe(`rel:${expected.relationshipSeq + 1}`);
  expect(store.findRelationships({ object: fresh }).length).toBe(1);
  // pod-0 as subject and as object (migrated rows and the new one), then gone everywhere
  const touching = store.relationshipRows().filter((r) => r[2].includes("cG9kLTA") || r[3].includes("cG9kLTA")).length;
  expect(store.findRelationships({ subject: pod0 }).length + store.findRelationships({ object: pod0 }).length).toBe(touching);
  expect(touching).toBeGreaterThan(2);
  store.deleteResource(pod0);
  expect(store.findRelationships({ subject: pod0 })).toEqual([]);
  expect(store.findRelationships({ object: pod0 })).toEqual([]);
  expect(store.findRelationships({ object: fresh })).toEqual([]);
  const n = (sql: string) => store.db.query(sql).values()[0]![0] as number;
  // node-new had no other relationship: its key is gone; so is pod-0's
  expect(n("SELECT count(*) FROM rel_keys WHERE key LIKE '%cG9kLTA%' OR key LIKE '%bm9kZS1uZXc%'")).toBe(0);
  expect(n("SELECT count(*) FROM rel_keys")).toBe(
    n("SELECT count(*) FROM (SELECT subject FROM relationships UNION SELECT object FROM relationships)"),
  );
  expect(n("SELECT count(*) FROM relationships_by_object")).toBe(n("SELECT count(*) FROM relationships"));
  // answers keep schema 1's orders for new rows too: a subject's by object key (schema 1's subject
  // index), an object's by predicate, then insertion
  const hub = kubeRef("k8s.io.api.core.v1.Node", "hub", "");
  const spokes = ["zz", "b", "a/x", "m", "c"].map((name) => kubeRef("k8s.io.api.core.v1.Pod", name, name.length > 1 ? "other" : "ns"));
  store.addRelationships(...spokes.map((p) => contains(hub, p)));
  store.addRelationships(...spokes.map((p) => contains(p, hub, "kubernetes.v1.Owns")), ...spokes.map((p) => contains(p, hub)));
  const keys = store.relationshipRows({ subjectKey: store.relationshipRows({ predicate: "kubernetes.v1.Contains" }).at(-1)![3] });
  expect(keys.map((r) => r[3])).toEqual(keys.map((r) => r[3]).toSorted());
  const bySubject = store.findRelationships({ subject: hub }).map((r) => r.object!.name);
  expect(bySubject).toEqual(spokes.toSorted((a, b) => (encodeResourceKey(a) < encodeResourceKey(b) ? -1 : 1)).map((p) => p.name));
  expect(bySubject).not.toEqual(spokes.map((p) => p.name));
  const byObject = store.findRelationships({ object: hub }).map((r) => `${r.type!.type} ${r.subject!.name}`);
  // (one predicate, Contains, for both types: insertion order)
  expect(byObject).toEqual([
    ...spokes.map((p) => `kubernetes.v1.Owns ${p.name}`),
    ...spokes.map((p) => `kubernetes.v1.Contains ${p.name}`),
  ]);
  store.close();
  store = openStore({ dataDirectory: dir, logger: silentLogger }) as SqliteStore;
  expect(version(storePath(dir))).toBe(2);
  expect(store.counts().relationships).toBe(expected.counts.relationships + 1 - touching + 15);
  store.close();
  // the `store` command reads the migrated file
  const res = await runStoreCommand({ command: "stats" }, { dataDirectory: dir });
  expect(res.exitCode).toBe(0);
  expect(JSON.parse(res.output)).toMatchObject({ schemaVersion: 2, relationships: expected.counts.relationships + 1 - touching + 15 });
});
