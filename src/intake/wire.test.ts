// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import { expect, test } from "bun:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { ObjectSchema, TypeDescriptorSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { DeltaOperation, DeltaRequestSchema, DeltaResponseSchema } from "../proto/gen/service/resource/v1/intake_pb.ts";
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
