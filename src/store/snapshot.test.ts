// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// A subscriber's snapshot of stored relationships: matched by type in SQLite when every filter has a type
// (no relationship for a resource-type subscriber), by a full scan otherwise; same objects, same order.

import { afterEach, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { silentLogger } from "../log/logger.ts";
import { RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";
import { type ResourceRef, ResourceRefSchema, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { openStore } from "./index.ts";
import type { SqliteStore } from "./sqlite-store.ts";
import type { StoreEvent } from "./types.ts";

const open: SqliteStore[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

const ref = (typeUrl: string, name: string): ResourceRef => create(ResourceRefSchema, { typeUrl, name });
const pred = anyPack(ResourceSchema, create(ResourceSchema));
const rel = (s: string, o: string, type: string) =>
  create(RelationshipSchema, {
    type: { kind: "resource.v1.Relationship", type },
    subject: ref("a.Pod", s),
    object: ref("a.Node", o),
    predicate: pred,
  });

function store(): SqliteStore {
  const s = openStore({ dataDirectory: "", logger: silentLogger });
  open.push(s);
  s.addResource(create(ResourceSchema, { type: { kind: "resource.v1.Resource", type: "a.Pod" }, metadata: { name: "p1" } }));
  // rid order interleaves the types
  s.addRelationships(
    rel("p1", "n1", "k.v1.Contains"),
    rel("p1", "n1", "k.v1.Owns"),
    rel("p2", "n1", "k.v1.Contains.Sub"),
    rel("p3", "n2", "k.v1.Owns"),
  );
  s.addRelationships(rel("p4", "n2", "k.v1.ContainsNot"), rel("p5", "n2", "k.v1.Contains"));
  return s;
}

async function snapshot(s: SqliteStore, filters: Array<{ kind?: string; type?: string }>): Promise<string[]> {
  const got: StoreEvent[] = [];
  const sub = s.subscribe(
    filters.map((f) => ({ kind: f.kind ?? "", type: f.type ?? "" }) as never),
    (e) => got.push(e),
  );
  await new Promise((r) => setTimeout(r, 0));
  sub.close();
  return got.flatMap((e) => e.objs.map((o) => `${o.type!.kind}|${o.type!.type}`));
}

test("a resource-type subscriber's snapshot holds its resources and no relationship", async () => {
  expect(await snapshot(store(), [{ type: "a.Pod" }])).toEqual(["resource.v1.Resource|a.Pod"]);
});

test("a relationship-type filter matches the type and its dot-segment children, in rid order", async () => {
  const s = store();
  const R = "resource.v1.Relationship";
  expect(await snapshot(s, [{ type: "k.v1.Contains" }])).toEqual([`${R}|k.v1.Contains`, `${R}|k.v1.Contains.Sub`, `${R}|k.v1.Contains`]);
  // two filters: merged in the store's order, each relationship once
  expect(await snapshot(s, [{ type: "k.v1.Owns" }, { type: "k.v1" }])).toEqual([
    `${R}|k.v1.Contains`,
    `${R}|k.v1.Owns`,
    `${R}|k.v1.Contains.Sub`,
    `${R}|k.v1.Owns`,
    `${R}|k.v1.ContainsNot`,
    `${R}|k.v1.Contains`,
  ]);
  // a kind that does not match excludes them
  expect(await snapshot(s, [{ kind: "resource.v1.Resource", type: "k.v1" }])).toEqual([]);
});

test("kind-only and empty filters still scan every relationship", async () => {
  const s = store();
  expect((await snapshot(s, [{ kind: "resource.v1.Relationship" }])).length).toBe(6);
  expect((await snapshot(s, [])).length).toBe(7);
});
