// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// encodeRelationship against protobuf-es' toBinary: the same bytes for every relationship, shared
// (frozen) pieces or not, and the fallback for what it does not assemble itself.

import { describe, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack, TimestampSchema } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { emptyPredicate, newRelationship } from "../graph/build.ts";
import { freezeShared } from "../graph/keys.ts";
import { clusterKey, objectRefKey, relationshipsOf } from "../kube/graph/convert.ts";
import { type Relationship, RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";
import { ResourceRefSchema, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { encodeRelationship } from "./relationship-encode.ts";

const same = (r: Relationship) =>
  expect(Buffer.from(encodeRelationship(r)).toString("hex")).toBe(Buffer.from(toBinary(RelationshipSchema, r)).toString("hex"));

describe("encodeRelationship", () => {
  test("the kube graph's relationships (shared refs, descriptors, predicates), first and cached encodings", () => {
    const pod = objectRefKey("c", "k8s.io.api.core.v1.Pod", "ns", "pod-1");
    const node = objectRefKey("c", "k8s.io.api.core.v1.Node", "", "node-1");
    const rels = [...relationshipsOf("C", node, pod), ...relationshipsOf("C", clusterKey("c"), node), ...relationshipsOf("O", pod, node)];
    for (let round = 0; round < 2; round++) for (const r of rels) same(r);
  });

  test("long names (lengths over 127 take two varint bytes), non-ASCII, unfrozen refs, a packed predicate, an id", () => {
    const subject = create(ResourceRefSchema, { typeUrl: "t", name: "\u00fc".repeat(300) });
    const object = freezeShared(create(ResourceRefSchema, { typeUrl: "u", name: "x".repeat(70_000) }));
    const predicate = anyPack(ResourceSchema, create(ResourceSchema, { type: { type: "x" } }));
    const r = newRelationship({ subject, object, predicate });
    same(r);
    same(create(RelationshipSchema, { ...r, id: new Uint8Array([1, 2, 3]) }));
    same(newRelationship({ subject, object, predicate: emptyPredicate("kubernetes.v1.Contains"), type: "other" }));
  });

  test("falls back to toBinary: timestamps, unknown fields, missing parts", () => {
    const subject = create(ResourceRefSchema, { typeUrl: "t", name: "a" });
    const object = create(ResourceRefSchema, { typeUrl: "t", name: "b" });
    const r = newRelationship({ subject, object, predicate: emptyPredicate("kubernetes.v1.Owns") });
    same({ ...r, deletedAt: create(TimestampSchema, { seconds: 5n, nanos: 7 }) });
    same({ ...r, createdAt: create(TimestampSchema, { seconds: 1n }), updatedAt: create(TimestampSchema, { seconds: 2n }) });
    same({ ...r, $unknown: [{ no: 99, wireType: 2, data: new Uint8Array([1, 0x61]) }] });
    same(create(RelationshipSchema, {}));
    same(create(RelationshipSchema, { subject }));
  });

  test("any relationship: the same bytes as toBinary", () => {
    const ref = fc
      .record({ typeUrl: fc.string(), name: fc.string({ maxLength: 300 }), cluster: fc.option(fc.string()), frozen: fc.boolean() })
      .map(({ typeUrl, name, cluster, frozen }) => {
        const m = create(ResourceRefSchema, {
          typeUrl,
          name,
          namespace: cluster === null ? undefined : { namespace: { case: "kube", value: { cluster, namespace: "n" } } },
        });
        return frozen ? freezeShared(m) : m;
      });
    fc.assert(
      fc.property(
        fc.option(ref, { nil: undefined }),
        fc.option(ref, { nil: undefined }),
        fc.string(),
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.boolean(),
        (subject, object, type, value, id, frozenPredicate) => {
          const p = { $typeName: "google.protobuf.Any" as const, typeUrl: `type.googleapis.com/${type}`, value };
          const r = create(RelationshipSchema, {
            type: { kind: "resource.v1.Relationship", type },
            id,
            subject,
            object,
            predicate: frozenPredicate ? freezeShared(p) : p,
          });
          same(r);
          same(r);
        },
      ),
      { numRuns: 500 },
    );
  });
});
