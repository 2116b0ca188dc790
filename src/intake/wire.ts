// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import { randomBytes } from "node:crypto";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { ObjectSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { DeltaOperation, DeltaResponseSchema, type DeltaResponse } from "../proto/gen/service/resource/v1/intake_pb.ts";
import type { OutboxEntry, OutboxOp } from "../store/types.ts";

/**
 * Wire encoding of `service.resource.v1.DeltaRequest` straight from outbox entries.
 *
 * Each outbox entry becomes one `Delta{op, objects:[object]}`; a batch becomes one DeltaRequest.
 * The object's bytes come from protobuf-es; `ttl` (field 3) and `delta_version` (field 4) are
 * appended as extra fields, which protobuf merge semantics make equivalent to setting them on the
 * message (the store hands objects without them). This avoids cloning every object per send.
 */

/** 4 random bytes, lowercase hex: one per process, as the original agent. */
export function newDeltaVersion(): string {
  return randomBytes(4).toString("hex");
}

export const OP_CODES: Record<OutboxOp, DeltaOperation> = {
  CREATE: DeltaOperation.CREATE,
  UPDATE: DeltaOperation.UPDATE,
  DELETE: DeltaOperation.DELETE,
};

/** Encoded `ttl` + `delta_version` fields of a resource.v1.Object. */
export function objectSuffix(ttlMs: number, deltaVersion: string): Uint8Array {
  const w = new BinaryWriter();
  const seconds = Math.floor(ttlMs / 1000);
  const nanos = Math.round((ttlMs - seconds * 1000) * 1e6);
  w.tag(3, WireType.LengthDelimited).fork();
  if (seconds !== 0) w.tag(1, WireType.Varint).int64(seconds);
  if (nanos !== 0) w.tag(2, WireType.Varint).int32(nanos);
  w.join();
  w.tag(4, WireType.LengthDelimited).string(deltaVersion);
  return w.finish();
}

export interface EncodedBatch {
  bytes: Uint8Array;
  deltas: number;
}

/** One DeltaRequest holding one Delta per entry, in the given order. `op` overrides every entry's op (resync sends CREATE). */
export function encodeEntries(entries: ReadonlyArray<OutboxEntry>, suffix: Uint8Array, op?: OutboxOp): EncodedBatch {
  const w = new BinaryWriter();
  for (const e of entries) {
    const obj = toBinary(ObjectSchema, e.object);
    const code = OP_CODES[op ?? e.op];
    w.tag(2, WireType.LengthDelimited).fork();
    if (code !== 0) w.tag(1, WireType.Varint).int32(code);
    w.tag(2, WireType.LengthDelimited).uint32(obj.length + suffix.length).raw(obj).raw(suffix);
    w.join();
  }
  return { bytes: w.finish(), deltas: entries.length };
}

/** DeltaRequest{deltas:[Delta{op: HEARTBEAT, objects:[Object{ttl, delta_version}]}]} */
export function encodeHeartbeat(suffix: Uint8Array): Uint8Array {
  const w = new BinaryWriter();
  w.tag(2, WireType.LengthDelimited).fork();
  w.tag(1, WireType.Varint).int32(DeltaOperation.HEARTBEAT);
  w.tag(2, WireType.LengthDelimited).bytes(suffix);
  w.join();
  return w.finish();
}

export function decodeResponse(bytes: Uint8Array): DeltaResponse {
  return fromBinary(DeltaResponseSchema, bytes);
}
