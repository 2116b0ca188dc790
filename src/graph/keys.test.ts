// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Resource keys and relationship identity: the Go agent's encoding cases, round trips and property tests.

import { describe, expect, test } from "bun:test";
import { create, equals } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { type Relationship, RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";
import { type ResourceRef, ResourceRefSchema, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { decodeResourceKey, encodeResourceKey, freezeShared, relationshipId } from "./keys.ts";

const cloud = (accountId: string, region: string, group: string) => ({
  namespace: { case: "cloud" as const, value: { account: { accountId }, region, group } },
});

// The Go agent's key encoding test cases (its encode tests, case 1): type URL + base64url(namePath).
const CASES: [ResourceRef, string][] = [
  [
    create(ResourceRefSchema, { typeUrl: "foo", name: "test", namespace: cloud("123456789012", "us-east-1", "test-group") }),
    "foo/Y2xvdWQvMTIzNDU2Nzg5MDEyL3VzLWVhc3QtMS90ZXN0LWdyb3VwL3Rlc3Q=",
  ],
  [
    create(ResourceRefSchema, { typeUrl: "foo", name: "test2", namespace: cloud("123456789012", "us-east-1", "") }),
    "foo/Y2xvdWQvMTIzNDU2Nzg5MDEyL3VzLWVhc3QtMS8vdGVzdDI=",
  ],
  [
    create(ResourceRefSchema, {
      typeUrl: "bar",
      name: "test3",
      namespace: { namespace: { case: "kube", value: { cluster: "test-cluster", namespace: "test-namespace" } } },
    }),
    "bar/a3ViZS90ZXN0LWNsdXN0ZXIvdGVzdC1uYW1lc3BhY2UvdGVzdDM=",
  ],
  [create(ResourceRefSchema, { typeUrl: "baz", name: "test4" }), "baz/dGVzdDQ="],
];

describe("resource keys (acceptance case 1)", () => {
  for (const [ref, key] of CASES) {
    test(`${ref.typeUrl}/${ref.name}`, () => {
      expect(encodeResourceKey(ref)).toBe(key);
      expect(equals(ResourceRefSchema, decodeResourceKey(key), ref)).toBe(true);
    });
  }

  test("one alphabet: names whose base64 has - and _ round-trip (the original decoded with StdEncoding)", () => {
    const ref = create(ResourceRefSchema, { typeUrl: "t", name: "??>>~~" });
    const key = encodeResourceKey(ref);
    expect(key).toMatch(/[-_]/);
    expect(key).not.toMatch(/[+]/);
    expect(decodeResourceKey(key).name).toBe("??>>~~");
    expect(() => decodeResourceKey("t/Pz8-Pn5+")).toThrow();
    expect(() => decodeResourceKey("t/dGVzdDQ")).toThrow(); // padding required, as Go URLEncoding
  });

  test("type_url with slashes, names with slashes, host namespace, cluster-scoped kube", () => {
    const refs = [
      create(ResourceRefSchema, { typeUrl: "type.googleapis.com/k8s.io.api.core.v1.Node", name: "n1" }),
      create(ResourceRefSchema, { typeUrl: "x", name: "arn:aws:iam::1/role/a/b", namespace: cloud("1", "r", "g") }),
      create(ResourceRefSchema, {
        typeUrl: "x",
        name: "cpu0",
        namespace: { namespace: { case: "host", value: { host: "h1", container: "" } } },
      }),
      create(ResourceRefSchema, {
        typeUrl: "x",
        name: "node-a",
        namespace: { namespace: { case: "kube", value: { cluster: "c", namespace: "" } } },
      }),
    ];
    for (const r of refs) expect(equals(ResourceRefSchema, decodeResourceKey(encodeResourceKey(r)), r)).toBe(true);
    expect(encodeResourceKey(refs[3]!)).toBe(`x/${Buffer.from("kube/c//node-a").toString("base64")}`);
  });

  test("missing type is rejected", () => {
    expect(() => encodeResourceKey(create(ResourceRefSchema, { name: "a" }))).toThrow("missing type");
  });

  test("property: encode/decode round-trips any kube/host/plain ref", () => {
    const seg = fc.string({ maxLength: 12 }).filter((s) => !s.includes("/"));
    fc.assert(
      fc.property(
        fc.constantFrom("kube", "host", "none"),
        seg.filter((s) => s.length > 0),
        seg,
        seg,
        fc.string({ maxLength: 20 }),
        (ns, type, a, b, name) => {
          if (ns === "none" && /^(cloud|kube|host)\//.test(name)) return; // documented ambiguity, as the original
          const namespace =
            ns === "kube"
              ? { namespace: { case: "kube" as const, value: { cluster: a, namespace: b } } }
              : ns === "host"
                ? { namespace: { case: "host" as const, value: { host: a, container: b } } }
                : undefined;
          const ref = create(ResourceRefSchema, { typeUrl: type, name, namespace });
          expect(equals(ResourceRefSchema, decodeResourceKey(encodeResourceKey(ref)), ref)).toBe(true);
        },
      ),
    );
  });
});

describe("relationship identity", () => {
  test("ignores timestamps and id; depends on type, ends and predicate", () => {
    const base = {
      type: { kind: "resource.v1.Relationship", type: "kubernetes.v1.Contains" },
      subject: { typeUrl: "a", name: "1" },
      object: { typeUrl: "b", name: "2" },
      predicate: anyPack(ResourceSchema, create(ResourceSchema, { type: { type: "x" } })),
    };
    const r1 = create(RelationshipSchema, base);
    const r2 = create(RelationshipSchema, { ...base, id: new Uint8Array([1]), createdAt: { seconds: 5n } });
    const id = (r: typeof r1) =>
      Buffer.from(relationshipId(r, encodeResourceKey(r.subject!), encodeResourceKey(r.object!))).toString("hex");
    expect(id(r1)).toBe(id(r2));
    expect(id(r1)).toHaveLength(64);
    const r3 = create(RelationshipSchema, { ...base, object: { typeUrl: "b", name: "3" } });
    expect(id(r3)).not.toBe(id(r1));
    const r4 = create(RelationshipSchema, { ...base, type: { kind: "resource.v1.Relationship", type: "kubernetes.v1.Owns" } });
    expect(id(r4)).not.toBe(id(r1));
  });

  // The ids are stored: a new encoding of the pre-image must hash to the same bytes as the first one did.
  const reference = (r: Relationship, subjectKey: string, objectKey: string): string => {
    const h = new Bun.CryptoHasher("sha256");
    const put = (b: Uint8Array) => {
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, b.length);
      h.update(len);
      h.update(b);
    };
    const enc = new TextEncoder();
    for (const s of [r.type?.kind ?? "", r.type?.type ?? "", subjectKey, objectKey, r.predicate?.typeUrl ?? ""]) put(enc.encode(s));
    put(r.predicate?.value ?? new Uint8Array());
    return h.digest("hex");
  };

  test("the id is sha256 of the length-prefixed fields, as stored before (non-ASCII, long, lone surrogates)", () => {
    const pinned = create(RelationshipSchema, {
      type: { kind: "resource.v1.Relationship", type: "kubernetes.v1.Contains" },
      subject: { typeUrl: "k8s.io.api.core.v1.Node", name: "node-\u00fc-1" },
      object: { typeUrl: "k8s.io.api.core.v1.Pod", name: "pod-\u{1F600}-x".repeat(200) },
      predicate: anyPack(ResourceSchema, create(ResourceSchema, { type: { type: "x" } })),
    });
    const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
    const ends = [encodeResourceKey(pinned.subject!), encodeResourceKey(pinned.object!)] as const;
    // computed by the first implementation (a hasher fed field by field)
    expect(hex(relationshipId(pinned, ...ends))).toBe("b0e356bb1836482cfa98611e77e63ec7d519621c204e71db23add92a899daed9");
    fc.assert(
      fc.property(
        fc.string({ unit: "binary" }),
        fc.string({ unit: "grapheme", maxLength: 3000 }),
        fc.string({ unit: "binary-ascii" }),
        fc.string({ unit: "binary" }),
        fc.uint8Array({ maxLength: 2000 }),
        (type, subjectKey, objectKey, typeUrl, value) => {
          const r = create(RelationshipSchema, { type: { kind: "k", type }, predicate: { typeUrl, value } });
          expect(hex(relationshipId(r, subjectKey, objectKey))).toBe(reference(r, subjectKey, objectKey));
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a frozen (shared) ref: its key is kept and equals the key of an unfrozen copy; it cannot be changed", () => {
    const init = {
      typeUrl: "k8s.io.api.core.v1.Pod",
      name: "p",
      namespace: { namespace: { case: "kube" as const, value: { cluster: "c", namespace: "n" } } },
    };
    const shared = freezeShared(create(ResourceRefSchema, init));
    const key = encodeResourceKey(create(ResourceRefSchema, init));
    expect(encodeResourceKey(shared)).toBe(key);
    expect(encodeResourceKey(shared)).toBe(key);
    expect(() => {
      (shared as ResourceRef).name = "q";
    }).toThrow(TypeError);
    expect(() => {
      (shared.namespace!.namespace.value as { cluster: string }).cluster = "d";
    }).toThrow(TypeError);
    expect(encodeResourceKey(shared)).toBe(key);
  });
});
