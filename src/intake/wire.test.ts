// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the Delta wire encoding: batches and heartbeats decode with the generated schema, and
// the fast and raw-entry encoders are byte-identical to protobuf-es.

import { expect, test } from "bun:test";
import { clone, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AnySchema, anyPack, DurationSchema } from "@bufbuild/protobuf/wkt";
import { silentLogger } from "../log/logger.ts";
import { ObjectSchema, TypeDescriptorSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";
import { ResourceRefSchema, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { DeltaOperation, DeltaRequestSchema, DeltaResponseSchema } from "../proto/gen/service/resource/v1/intake_pb.ts";
import { openStore } from "../store/index.ts";
import type { OutboxEntry } from "../store/types.ts";
import { decodeResponse, encodeEntries, encodeHeartbeat, newDeltaVersion, objectSuffix } from "./wire.ts";

function entry(seq: number, op: OutboxEntry["op"], name: string): OutboxEntry {
  const object = create(ObjectSchema, {
    type: create(TypeDescriptorSchema, { kind: "resource.v1.Resource", type: "k8s.io.api.core.v1.Pod" }),
    object: create(AnySchema, { typeUrl: "type.googleapis.com/resource.v1.Resource", value: new TextEncoder().encode(name) }),
  });
  return { seq, channel: "cluster", key: name, op, object, bytes: toBinary(ObjectSchema, object).length, enqueuedAt: 0 };
}

test("delta_version is 8 lowercase hex chars and differs between calls", () => {
  const a = newDeltaVersion();
  expect(a).toMatch(/^[0-9a-f]{8}$/);
  expect(newDeltaVersion()).not.toBe(a);
});

test("encoded batch decodes with the generated schema: one Delta per entry, ttl and delta_version set, order kept", () => {
  const suffix = objectSuffix(300_000, "0a1b2c3d");
  const entries = [entry(1, "CREATE", "a"), entry(2, "UPDATE", "b"), entry(3, "DELETE", "c")];
  const req = fromBinary(DeltaRequestSchema, encodeEntries(entries, suffix).bytes);
  expect(req.clientId).toBe("");
  expect(req.deltas.map((d) => d.op)).toEqual([DeltaOperation.CREATE, DeltaOperation.UPDATE, DeltaOperation.DELETE]);
  for (const [i, d] of req.deltas.entries()) {
    expect(d.objects).toHaveLength(1);
    const o = d.objects[0]!;
    expect(o.deltaVersion).toBe("0a1b2c3d");
    expect(o.ttl?.seconds).toBe(300n);
    expect(o.ttl?.nanos).toBe(0);
    expect(o.type?.type).toBe("k8s.io.api.core.v1.Pod");
    expect(new TextDecoder().decode(o.object!.value)).toBe(entries[i]!.key);
  }
  const resync = fromBinary(DeltaRequestSchema, encodeEntries(entries, suffix, "CREATE").bytes);
  expect(resync.deltas.every((d) => d.op === DeltaOperation.CREATE)).toBe(true);
});

test("heartbeat is one bare object with ttl and delta_version", () => {
  const req = fromBinary(DeltaRequestSchema, encodeHeartbeat(objectSuffix(1500, "deadbeef")));
  expect(req.deltas).toHaveLength(1);
  expect(req.deltas[0]!.op).toBe(DeltaOperation.HEARTBEAT);
  const o = req.deltas[0]!.objects[0]!;
  expect(o.type).toBeUndefined();
  expect(o.object).toBeUndefined();
  expect(o.deltaVersion).toBe("deadbeef");
  expect(o.ttl?.seconds).toBe(1n);
  expect(o.ttl?.nanos).toBe(500_000_000);
});

test("responses: empty decodes, garbage throws", () => {
  expect(decodeResponse(toBinary(DeltaResponseSchema, create(DeltaResponseSchema)))).toBeDefined();
  expect(() => decodeResponse(new Uint8Array([0x07, 1, 2, 3]))).toThrow();
});

test("fast encoder is byte-identical to protobuf-es for the store's object shape, and falls back for others", () => {
  const suffix = objectSuffix(300_000, "cafef00d");
  const mk = (seq: number, op: OutboxEntry["op"], type: string, value: Uint8Array): OutboxEntry => {
    const object = create(ObjectSchema, {
      type: create(TypeDescriptorSchema, { kind: "resource.v1.Resource", type }),
      object: create(AnySchema, { typeUrl: "type.googleapis.com/resource.v1.Resource", value }),
    });
    return { seq, channel: "c", key: `k${seq}`, op, object, bytes: 0, enqueuedAt: 0 };
  };
  const big = new Uint8Array(70_000).fill(7);
  const entries = [
    mk(1, "CREATE", "k8s.io.api.core.v1.Pod", new Uint8Array([1, 2, 3])),
    mk(2, "UPDATE", "ünïcode.type", new Uint8Array()),
    mk(3, "DELETE", "", big),
    mk(4, "CREATE", "antimetal.hardware.v1.SystemNode", new Uint8Array(1024).fill(0x61)),
  ];
  const ref = create(DeltaRequestSchema, {
    deltas: entries.map((e) => ({
      op: { CREATE: DeltaOperation.CREATE, UPDATE: DeltaOperation.UPDATE, DELETE: DeltaOperation.DELETE }[e.op],
      objects: [Object.assign(clone(ObjectSchema, e.object), { ttl: create(DurationSchema, { seconds: 300n }), deltaVersion: "cafef00d" })],
    })),
  });
  expect(Buffer.from(encodeEntries(entries, suffix).bytes).equals(Buffer.from(toBinary(DeltaRequestSchema, ref)))).toBe(true);

  // an object that already carries fields the fast path does not know goes through toBinary
  const odd = mk(5, "CREATE", "x", new Uint8Array([9]));
  odd.object.deltaVersion = "00000000";
  const dec = fromBinary(DeltaRequestSchema, encodeEntries([odd], suffix).bytes);
  expect(dec.deltas[0]!.objects[0]!.deltaVersion).toBe("cafef00d");
  expect(dec.deltas[0]!.objects[0]!.object!.value).toEqual(new Uint8Array([9]));
});

test("raw entries (outbox.readRaw) encode byte-identically to decoded entries (outbox.read) from a real store", () => {
  const store = openStore({ dataDirectory: "", logger: silentLogger });
  try {
    const ref = (typeUrl: string, name: string) => create(ResourceRefSchema, { typeUrl, name });
    const res = (type: string, name: string, size: number, region = "") =>
      create(ResourceSchema, {
        type: { kind: "resource.v1.Resource", type },
        metadata: { name, region },
        spec: { typeUrl: type, value: new Uint8Array(size).fill(0x61) },
      });
    const rel = (a: string, b: string, type = "kubernetes.v1.Contains") =>
      create(RelationshipSchema, {
        type: { kind: "resource.v1.Relationship", type },
        subject: ref("k8s.io.api.core.v1.Pod", a),
        object: ref("k8s.io.api.core.v1.Pod", b),
        predicate: anyPack(ResourceSchema, create(ResourceSchema)),
      });
    for (let i = 0; i < 20; i++) store.updateResource(res("k8s.io.api.core.v1.Pod", `p${i}`, [0, 1, 200, 1024, 70_000][i % 5]!));
    store.updateResource(res("ünïcode.type", "ü", 3));
    store.updateResource(res("antimetal.hardware.v1.CPUCoreNode", "c0", 10));
    store.addRelationships(rel("p1", "p2"), rel("p3", "p4"), rel("p5", "p6"));
    store.addRelationships(
      create(RelationshipSchema, {
        subject: ref("k8s.io.api.core.v1.Pod", "p7"),
        object: ref("k8s.io.api.core.v1.Pod", "p8"),
        predicate: anyPack(ResourceSchema, create(ResourceSchema)),
      }),
    );
    store.deleteResource(ref("k8s.io.api.core.v1.Pod", "p9"));
    store.deleteRelationships(rel("p3", "p4"));
    store.updateResource(res("k8s.io.api.core.v1.Pod", "p0", 5, "updated"));
    store.outbox.confirm("cluster", store.outbox.read("cluster", 0, 3));
    store.updateResource(res("k8s.io.api.core.v1.Pod", "p1", 5, "updated")); // an UPDATE entry
    const suffix = objectSuffix(300_000, "cafef00d");
    let checked = 0;
    for (const ch of ["cluster", "instance"]) {
      const dec = store.outbox.read(ch, 0, 1000);
      const raw = store.outbox.readRaw(ch, 0, 1000);
      expect(raw.map((e) => e.seq)).toEqual(dec.map((e) => e.seq));
      if (ch === "cluster") expect(new Set(raw.map((e) => e.op))).toEqual(new Set(["CREATE", "UPDATE", "DELETE"]));
      for (const op of [undefined, "CREATE"] as const) {
        const a = Buffer.from(encodeEntries(dec, suffix, op).bytes);
        const b = Buffer.from(encodeEntries(raw, suffix, op).bytes);
        expect(b.equals(a)).toBe(true);
        // and both equal protobuf-es encoding the request from the decoded messages
        const reference = create(DeltaRequestSchema, {
          deltas: dec.map((e) => ({
            op: { CREATE: DeltaOperation.CREATE, UPDATE: DeltaOperation.UPDATE, DELETE: DeltaOperation.DELETE }[op ?? e.op],
            objects: [
              Object.assign(clone(ObjectSchema, e.object), { ttl: create(DurationSchema, { seconds: 300n }), deltaVersion: "cafef00d" }),
            ],
          })),
        });
        expect(b.equals(Buffer.from(toBinary(DeltaRequestSchema, reference)))).toBe(true);
      }
      // one entry at a time too (the poison-isolation path sends single entries)
      for (let i = 0; i < raw.length; i++) {
        expect(Buffer.from(encodeEntries([raw[i]!], suffix).bytes).equals(Buffer.from(encodeEntries([dec[i]!], suffix).bytes))).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
    // resync pages: snapshotRaw encodes like snapshot
    for (const ch of ["cluster", "instance"]) {
      const dec = [...store.outbox.snapshot(ch, 7)];
      const raw = [...store.outbox.snapshotRaw(ch, 7)];
      expect(raw.length).toBe(dec.length);
      for (let i = 0; i < raw.length; i++) {
        expect(
          Buffer.from(encodeEntries(raw[i]!, suffix, "CREATE").bytes).equals(Buffer.from(encodeEntries(dec[i]!, suffix, "CREATE").bytes)),
        ).toBe(true);
      }
    }
  } finally {
    store.close();
  }
});
