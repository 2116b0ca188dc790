// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The store's Relationship decoder returns exactly what protobuf-es' fromBinary returns, for every
// relationship (random ones, and bodies its fast path hands to fromBinary), and throws where it throws.

import { describe, expect, test } from "bun:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { type Relationship, RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";
import { decodeRelationship, decodeRelationshipFast } from "./relationship-decode.ts";

const text = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: "binary", maxLength: 12 }), fc.constantFrom("", "kube", "ns-1"));
const bytes = fc.uint8Array({ maxLength: 40 });
const timestamp = fc.option(
  fc.record({ seconds: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), nanos: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
  { nil: undefined },
);
const namespace = fc.option(
  fc.oneof(
    fc.constant({ case: undefined }),
    fc.record({ case: fc.constant("kube" as const), value: fc.record({ cluster: text, namespace: text }) }),
    fc.record({ case: fc.constant("host" as const), value: fc.record({ host: text, container: text }) }),
    fc.record({
      case: fc.constant("cloud" as const),
      value: fc.record({
        account: fc.option(fc.record({ accountId: text, accountName: text }), { nil: undefined }),
        region: text,
        group: text,
      }),
    }),
  ),
  { nil: undefined },
);
const ref = fc.option(fc.record({ typeUrl: text, name: text, namespace: namespace.map((n) => (n ? { namespace: n } : undefined)) }), {
  nil: undefined,
});
const relationship = fc
  .record({
    type: fc.option(fc.record({ kind: text, type: text }), { nil: undefined }),
    id: bytes,
    subject: ref,
    object: ref,
    predicate: fc.option(fc.record({ typeUrl: text, value: bytes }), { nil: undefined }),
    createdAt: timestamp,
    updatedAt: timestamp,
    deletedAt: timestamp,
  })
  .map((init) => create(RelationshipSchema, init as any));

const sameAsFromBinary = (body: Uint8Array): void => {
  let want: Relationship | Error;
  try {
    want = fromBinary(RelationshipSchema, body);
  } catch (e) {
    want = e as Error;
  }
  if (want instanceof Error) expect(() => decodeRelationship(body)).toThrow();
  else expect(decodeRelationship(body)).toStrictEqual(want);
};

describe("decodeRelationship", () => {
  test("random relationships decode as fromBinary decodes them, through the fast path", () => {
    fc.assert(
      fc.property(relationship, (rel) => {
        const body = toBinary(RelationshipSchema, rel);
        expect(decodeRelationshipFast(body)).toStrictEqual(fromBinary(RelationshipSchema, body));
      }),
      { numRuns: 2000 },
    );
  });

  test("a relationship as the store writes one (kube refs, predicate, timestamps)", () => {
    const rel = create(RelationshipSchema, {
      type: { kind: "resource.v1.Relationship", type: "kubernetes.v1.Contains" },
      subject: {
        typeUrl: "k8s.io.api.core.v1.Pod",
        name: "pod-1",
        namespace: { namespace: { case: "kube", value: { cluster: "c", namespace: "ns" } } },
      },
      object: { typeUrl: "k8s.io.api.core.v1.Node", name: "node-1", namespace: { namespace: { case: "kube", value: { cluster: "c" } } } },
      predicate: { typeUrl: "type.googleapis.com/kubernetes.v1.Contains" },
      createdAt: { seconds: 1_733_400_000n, nanos: 123_000 },
      updatedAt: { seconds: 1_733_400_001n },
    });
    const body = toBinary(RelationshipSchema, rel);
    expect(decodeRelationshipFast(body)).toBeDefined();
    expect(decodeRelationship(body)).toStrictEqual(fromBinary(RelationshipSchema, body));
    expect(decodeRelationship(body)).toStrictEqual(rel);
  });

  test("strings repeated across bodies (the decoder's string table: hits, slots taken over, same lengths) decode as fromBinary does", () => {
    // more same-length names than the table has slots (so slots are shared by strings of one
    // length), and a few others, in random order: slots are hit, taken over and hit again
    const names = Array.from({ length: 2500 }, (_, i) => `n${String(i).padStart(4, "0")}`);
    const pool = fc.oneof(fc.constantFrom(...names), fc.constantFrom("a", "ab", "kube", "é", "", "x".repeat(64), "x".repeat(65)));
    const pooled = fc.record({ s: pool, o: pool, ns: pool, t: pool }).map(({ s, o, ns, t }) =>
      create(RelationshipSchema, {
        type: { kind: t, type: s },
        subject: { typeUrl: t, name: s, namespace: { namespace: { case: "kube", value: { cluster: ns, namespace: o } } } },
        object: { typeUrl: o, name: o, namespace: { namespace: { case: "host", value: { host: ns, container: s } } } },
        predicate: { typeUrl: ns },
      }),
    );
    fc.assert(
      fc.property(fc.array(pooled, { minLength: 200, maxLength: 400 }), (rels) => {
        for (const rel of rels) {
          const body = toBinary(RelationshipSchema, rel);
          expect(decodeRelationship(body)).toStrictEqual(fromBinary(RelationshipSchema, body));
        }
      }),
      { numRuns: 60 },
    );
  });

  test("bodies the fast path does not handle are decoded by fromBinary: unknown fields, repeated messages, non-canonical encodings", () => {
    const rel = create(RelationshipSchema, {
      subject: { typeUrl: "t", name: "a", namespace: { namespace: { case: "kube", value: { cluster: "c" } } } },
      predicate: { typeUrl: "p" },
    });
    const body = toBinary(RelationshipSchema, rel);
    const unknownTop = new Uint8Array([...body, 0x48, 0x01]); // field 9, varint
    const unknownNested = new Uint8Array([0x1a, 0x05, 0x0a, 0x01, 0x74, 0x38, 0x01]); // subject { typeUrl: "t", field 7: 1 }
    const subjectTwice = new Uint8Array([...body, ...body.subarray(0, body.indexOf(0x2a))]); // subject again (merged by fromBinary)
    const tsFixed = new Uint8Array([...body, 0x32, 0x05, 0x0d, 0x01, 0x00, 0x00, 0x00]); // createdAt with a fixed32 field 1
    for (const b of [unknownTop, unknownNested, subjectTwice, tsFixed]) sameAsFromBinary(b);
    expect(decodeRelationshipFast(unknownTop)).toBeUndefined();
    expect(decodeRelationship(unknownTop).$unknown).toHaveLength(1);
    expect(decodeRelationshipFast(unknownNested)).toBeUndefined();
    expect(decodeRelationshipFast(subjectTwice)).toBeUndefined();
    expect(decodeRelationshipFast(tsFixed)).toBeUndefined();
  });

  test("truncated bodies, invalid UTF-8 and garbage: the same result or the same failure as fromBinary", () => {
    fc.assert(
      fc.property(relationship, fc.nat(), (rel, cut) => {
        const body = toBinary(RelationshipSchema, rel);
        sameAsFromBinary(body.subarray(0, body.length === 0 ? 0 : cut % body.length));
      }),
      { numRuns: 1000 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), sameAsFromBinary), { numRuns: 3000 });
    sameAsFromBinary(new Uint8Array([0x1a, 0x03, 0x0a, 0x01, 0xff])); // subject.typeUrl = "\xff"
  });
});
