// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The store's two narrow reads: listResourcesContaining (only the bodies holding some bytes leave SQLite)
// and a subscription without a snapshot.

import { afterEach, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { silentLogger } from "../log/logger.ts";
import { type TypeDescriptor, TypeDescriptorSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { type Resource, ResourceRefSchema, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { openStore } from "./index.ts";
import type { SqliteStore } from "./sqlite-store.ts";
import type { StoreEvent } from "./types.ts";

const open: SqliteStore[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});
function mem(): SqliteStore {
  const s = openStore({ dataDirectory: "", logger: silentLogger });
  open.push(s);
  return s;
}
const res = (kind: string, type: string, name: string, uid = ""): Resource =>
  create(ResourceSchema, { type: { kind, type }, metadata: { name, providerId: uid } });
const filter = (kind: string, type: string): TypeDescriptor => create(TypeDescriptorSchema, { kind, type });
const names = (rs: Resource[]) => rs.map((r) => `${r.type?.type}/${r.metadata?.name}`);

function seeded(): SqliteStore {
  const s = mem();
  s.apply(
    [
      res("resource.v1.Resource", "k8s.io.api.core.v1.Pod", "b", "uid-2"),
      res("resource.v1.Resource", "k8s.io.api.core.v1.Pod", "a", "uid-1"),
      res("resource.v1.Resource", "k8s.io.api.core.v1.PodTemplate", "t", "uid-3"),
      res("resource.v1.Resource", "k8s.io.api.core.v1.Pod.Sub", "s", "uid-4"),
      res("other.Kind", "k8s.io.api.core.v1.Node", "n"),
      res("resource.v1.Resource", "antimetal.runtime.v1.ContainerNode", "c"),
    ].map((resource) => ({ op: "add" as const, resource })),
  );
  return s;
}

test("listResourcesContaining: what listResources returns, less the bodies without the bytes, for every kind of filter", () => {
  const s = seeded();
  const cases: TypeDescriptor[][] = [
    [],
    [filter("", "k8s.io.api.core.v1.Pod")],
    [filter("", "k8s.io.api.core.v1.Pod"), filter("", "k8s.io.api.core.v1")],
    [filter("other.Kind", "")],
    [filter("resource.v1.Resource", "k8s.io")],
    [filter("", "no.such.Type")],
  ];
  const needles = ["uid-1", "uid-", "", "nothing-has-this", "k8s.io.api.core.v1.Pod"];
  for (const f of cases)
    for (const needle of needles) {
      const bytes = new TextEncoder().encode(needle);
      const expected = s.listResources(f).filter((r) => Buffer.from(toBinary(ResourceSchema, r)).includes(needle));
      expect(names(s.listResourcesContaining(f, bytes))).toEqual(names(expected));
    }
  // a Pod filter takes sub-types (dot segments), not PodTemplate; the bytes may sit in any field
  const pods = names(s.listResourcesContaining([filter("", "k8s.io.api.core.v1.Pod")], new TextEncoder().encode("uid-")));
  expect(pods.sort()).toEqual(["k8s.io.api.core.v1.Pod.Sub/s", "k8s.io.api.core.v1.Pod/a", "k8s.io.api.core.v1.Pod/b"]);
  expect(names(s.listResourcesContaining([], new TextEncoder().encode("uid-2")))).toEqual(["k8s.io.api.core.v1.Pod/b"]);
});

test("listResourcesContaining on a closed store throws", () => {
  const s = seeded();
  s.close();
  expect(() => s.listResourcesContaining([], new Uint8Array([1]))).toThrow(/closed/);
});

test("a subscription without a snapshot gets only the events of later commits", async () => {
  const s = seeded();
  const got: StoreEvent[] = [];
  const sub = s.subscribe([filter("", "k8s.io.api.core.v1.Pod")], (e) => got.push(e), { snapshot: false });
  await Bun.sleep(0); // where a snapshot would have been delivered
  expect(got).toEqual([]);
  s.addResource(res("resource.v1.Resource", "k8s.io.api.core.v1.Pod", "c"));
  s.addResource(res("resource.v1.Resource", "k8s.io.api.core.v1.Node", "m"));
  s.deleteResource(create(ResourceRefSchema, { typeUrl: "k8s.io.api.core.v1.Pod", name: "a" }));
  expect(got.map((e) => e.type)).toEqual(["ADD", "DELETE"]);
  // the same filter with a snapshot gets the three stored Pods first
  const withSnapshot: StoreEvent[] = [];
  s.subscribe([filter("", "k8s.io.api.core.v1.Pod")], (e) => withSnapshot.push(e));
  await Bun.sleep(0);
  expect(withSnapshot.map((e) => [e.type, e.objs.length])).toEqual([["ADD", 3]]);
  sub.close();
});
