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
import { decodeRelationship, decodeRelationshipFast, decodeRelationships } from "./relationship-decode.ts";

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

/** Bodies back to back and their lengths, as the store's by-endpoint statements return them. */
const concatenated = (bodies: Uint8Array[]): [Uint8Array, string] => {
  const out = new Uint8Array(bodies.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bodies) {
    out.set(b, at);
    at += b.length;
  }
  return [out, bodies.map((b) => b.length).join(",")];
};

/** JSON of decoded messages with every key in its order (bigints and bytes printed). */
const inOrder = (v: unknown): string =>
  JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}n` : x instanceof Uint8Array ? [...x] : x === undefined ? "undefined" : x));

// few distinct sub-messages, so that consecutive bodies often repeat one (the copies) and often do not
const refs = [
  {
    typeUrl: "k8s.io.api.core.v1.Node",
    name: "node-1",
    namespace: { namespace: { case: "kube", value: { cluster: "c", namespace: "" } } },
  },
  {
    typeUrl: "k8s.io.api.core.v1.Pod",
    name: "pod-1",
    namespace: { namespace: { case: "kube", value: { cluster: "c", namespace: "ns" } } },
  },
  { typeUrl: "antimetal.hardware.v1.CPUCore", name: "0", namespace: { namespace: { case: "host", value: { host: "h", container: "" } } } },
  {
    typeUrl: "t",
    name: "cloudy",
    namespace: { namespace: { case: "cloud", value: { account: { accountId: "1" }, region: "r", group: "" } } },
  },
  { typeUrl: "t", name: "bare" },
  { typeUrl: "t", name: "empty-ns", namespace: {} },
];
const pooledRelationship = fc
  .record({
    type: fc.constantFrom(undefined, { kind: "resource.v1.Relationship", type: "kubernetes.v1.Contains" }, { kind: "k", type: "" }),
    id: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 1, maxLength: 32 })),
    subject: fc.constantFrom(undefined, ...refs),
    object: fc.constantFrom(undefined, ...refs),
    predicate: fc.constantFrom(
      undefined,
      { typeUrl: "type.googleapis.com/kubernetes.v1.Contains" },
      { typeUrl: "p", value: new Uint8Array([1, 2]) },
    ),
    createdAt: timestamp,
  })
  .map((init) => create(RelationshipSchema, init as any));

describe("decodeRelationships (a query's bodies in one buffer)", () => {
  test("decodes every body as fromBinary does, in order, with repeated sub-messages copied", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(pooledRelationship, relationship), { maxLength: 40 }), (rels) => {
        const bodies = rels.map((r) => toBinary(RelationshipSchema, r));
        const got = decodeRelationships(...concatenated(bodies));
        const want = bodies.map((b) => fromBinary(RelationshipSchema, b));
        expect(got).toStrictEqual(want);
        expect(inOrder(got)).toBe(inOrder(want)); // the same keys in the same order (JSON output)
      }),
      { numRuns: 1500 },
    );
  });

  test("no two relationships share an object, and bytes are not views of the query's buffer", () => {
    const rel = create(RelationshipSchema, {
      type: { kind: "resource.v1.Relationship", type: "kubernetes.v1.Contains" },
      id: new Uint8Array([7, 7]),
      subject: refs[1] as any,
      object: refs[0] as any,
      predicate: { typeUrl: "p", value: new Uint8Array([1, 2]) },
    });
    const [buf, lengths] = concatenated([rel, rel, rel].map((r) => toBinary(RelationshipSchema, r)));
    const [a, b, c] = decodeRelationships(buf, lengths);
    for (const [x, y] of [
      [a, b],
      [b, c],
    ] as const) {
      for (const k of ["type", "subject", "object", "predicate", "id"] as const) expect(x![k]).not.toBe(y![k]);
      expect(x!.object!.namespace).not.toBe(y!.object!.namespace);
      expect(x!.object!.namespace!.namespace).not.toBe(y!.object!.namespace!.namespace);
      expect(x!.object!.namespace!.namespace.value).not.toBe(y!.object!.namespace!.namespace.value);
      expect(x!.subject!.namespace).not.toBe(y!.subject!.namespace);
      expect(x!.predicate!.value).not.toBe(y!.predicate!.value);
    }
    for (const r of [a, b, c]) {
      expect(r!.id.buffer).not.toBe(buf.buffer);
      expect(r!.predicate!.value.buffer).not.toBe(buf.buffer);
    }
    a!.object!.name = "changed";
    (a!.object!.namespace!.namespace.value as { cluster: string }).cluster = "changed";
    b!.predicate!.value[0] = 9;
    expect(c).toStrictEqual(fromBinary(RelationshipSchema, toBinary(RelationshipSchema, rel)));
    expect(b!.object).toStrictEqual(rel.object);
  });

  test("a body the fast path gives up on in the middle (a repeated subject) goes to fromBinary; the next body's copy of it is still right", () => {
    const rel = create(RelationshipSchema, { subject: refs[1] as any, object: refs[0] as any, predicate: { typeUrl: "p" } });
    const body = toBinary(RelationshipSchema, rel);
    const other = toBinary(RelationshipSchema, create(RelationshipSchema, { subject: refs[2] as any, object: refs[0] as any }));
    const subjectEnd = 2 + body[1]!; // the subject is the first field here: tag, length, bytes
    const subjectTwice = new Uint8Array([...other, ...body.subarray(0, subjectEnd)]); // merged by fromBinary
    const unknown = new Uint8Array([...body, 0x48, 0x01]); // field 9
    const bodies = [body, subjectTwice, body, unknown, body, other];
    expect(decodeRelationshipFast(subjectTwice)).toBeUndefined();
    const got = decodeRelationships(...concatenated(bodies));
    expect(got).toStrictEqual(bodies.map((b) => fromBinary(RelationshipSchema, b)));
    expect(got[3]!.$unknown).toHaveLength(1);
  });

  test("no rows, and lengths that do not add up to the buffer", () => {
    expect(decodeRelationships(new Uint8Array(0), "")).toEqual([]);
    const body = toBinary(RelationshipSchema, create(RelationshipSchema, { subject: refs[0] as any }));
    expect(() => decodeRelationships(body, String(body.length + 1))).toThrow(/past the end/);
    expect(() => decodeRelationships(body, String(body.length - 1))).toThrow();
    expect(decodeRelationships(body, `0,${body.length},0`)).toStrictEqual([
      fromBinary(RelationshipSchema, new Uint8Array(0)),
      fromBinary(RelationshipSchema, body),
      fromBinary(RelationshipSchema, new Uint8Array(0)),
    ]);
  });

  test("invalid UTF-8 in a body throws as fromBinary does", () => {
    const good = toBinary(RelationshipSchema, create(RelationshipSchema, { subject: refs[0] as any }));
    const bad = new Uint8Array([0x1a, 0x03, 0x0a, 0x01, 0xff]);
    expect(() => fromBinary(RelationshipSchema, bad)).toThrow();
    expect(() => decodeRelationships(...concatenated([good, bad, good]))).toThrow();
  });
});
