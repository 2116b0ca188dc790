// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the Kubernetes protobuf wire reader: ObjectMeta fields, managedFields removal with
// re-encoded lengths, the k8s\0 envelope, and errors on truncated input.

import { describe, expect, test } from "bun:test";
import { putVarint, varintSize } from "../util/varint.ts";
import { decodeEnvelope, dropNested, findLen, getString, readObjectMeta } from "./pb.ts";

const enc = new TextEncoder();

/** `n` as varint bytes (util/varint.test.ts checks the encoder against the definition). */
function varint(n: number): number[] {
  const buf = new Uint8Array(varintSize(n));
  putVarint(buf, 0, n);
  return [...buf];
}

function len(num: number, payload: number[] | Uint8Array): number[] {
  return [...varint(num * 8 + 2), ...varint(payload.length), ...payload];
}

function s(num: number, v: string): number[] {
  return len(num, [...enc.encode(v)]);
}

function pod(managedFieldsBytes: number): Uint8Array {
  const labels = [...len(11, [...s(1, "app"), ...s(2, "web")]), ...len(11, [...s(1, "tier"), ...s(2, "fe")])];
  const owner = len(13, [...s(1, "ReplicaSet"), ...s(3, "rs-1"), ...s(4, "uid-1"), ...s(5, "apps/v1"), 6 * 8, 1]);
  const managed = managedFieldsBytes
    ? len(17, [...s(1, "kubectl"), ...s(2, "Apply"), ...len(7, new Array(managedFieldsBytes).fill(0x61))])
    : [];
  const meta = [...s(1, "p1"), ...s(3, "ns"), ...s(5, "uid-p1"), ...s(6, "42"), ...labels, ...managed, ...owner, ...managed];
  const spec = [...s(10, "node-a")];
  return new Uint8Array([...len(1, meta), ...len(2, spec), ...len(3, s(1, "Running"))]);
}

describe("kubernetes protobuf wire reader", () => {
  test("reads ObjectMeta: name, namespace, uid, resourceVersion, labels in order, ownerReferences", () => {
    const m = readObjectMeta(pod(0));
    expect(m).toMatchObject({ name: "p1", namespace: "ns", uid: "uid-p1", resourceVersion: "42" });
    expect(m.labels).toEqual([
      ["app", "web"],
      ["tier", "fe"],
    ]);
    expect(m.ownerReferences).toEqual([{ kind: "ReplicaSet", name: "rs-1", uid: "uid-1", apiVersion: "apps/v1", controller: true }]);
  });

  test("dropNested removes every managedFields entry and re-encodes lengths (incl. multi-byte varints)", () => {
    for (const size of [0, 10, 300, 70_000]) {
      const input = pod(size);
      const out = dropNested(input, 1, 17);
      if (size === 0) expect(out).toBe(input);
      const meta = findLen(out, 0, out.length, 1)!;
      expect(findLen(out, meta.start, meta.end, 17)).toBeUndefined();
      expect(readObjectMeta(out)).toEqual(readObjectMeta(pod(0)));
      // the rest of the object is byte-identical
      expect(getString(out, findLen(out, 0, out.length, 2), 10)).toBe("node-a");
      expect(out).toEqual(pod(0));
    }
  });

  test("envelope: k8s\\0 magic + runtime.Unknown{typeMeta, raw}", () => {
    const raw = pod(0);
    const env = new Uint8Array([0x6b, 0x38, 0x73, 0x00, ...len(1, [...s(1, "v1"), ...s(2, "Pod")]), ...len(2, raw)]);
    const e = decodeEnvelope(env);
    expect(e).toMatchObject({ apiVersion: "v1", kind: "Pod" });
    expect(e.raw).toEqual(raw);
    expect(() => decodeEnvelope(raw)).toThrow("magic");
  });

  test("truncated input is an error, not a silent misread", () => {
    const p = pod(0);
    expect(() => readObjectMeta(p.subarray(0, 12))).toThrow("overruns");
  });
});
