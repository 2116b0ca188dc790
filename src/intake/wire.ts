// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Encodes outbox entries straight into service.resource.v1.DeltaRequest bytes (one Delta per entry,
// ttl and delta_version appended), plus heartbeats, delta_version and response decoding.

import { randomBytes } from "node:crypto";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { ObjectSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { DeltaOperation, type DeltaResponse, DeltaResponseSchema } from "../proto/gen/service/resource/v1/intake_pb.ts";
import type { OutboxEntry, OutboxOp, OutboxRawEntry } from "../store/types.ts";
import { putVarint, varintSize } from "../util/varint.ts";

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

const utf8 = new TextEncoder();
const strCache = new Map<string, Uint8Array>();
/** UTF-8 of the few distinct kind/type/type_url strings, cached (bounded). */
function str(s: string): Uint8Array {
  let b = strCache.get(s);
  if (b === undefined) {
    if (strCache.size >= 4096) strCache.clear();
    b = utf8.encode(s);
    strCache.set(s, b);
  }
  return b;
}

const fieldSize = (len: number) => (len === 0 ? 0 : 1 + varintSize(len) + len);

/**
 * Fast path for the shape the store produces: Object{type{kind,type}, object: Any{type_url, value}}
 * and nothing else (no ttl/delta_version/unknown fields). Anything else goes through toBinary.
 */
interface Plain {
  kind: Uint8Array;
  type: Uint8Array;
  url: Uint8Array;
  value: Uint8Array;
  tdLen: number;
  anyLen: number;
}

function plain(o: OutboxEntry["object"]): Plain | undefined {
  const t = o.type;
  const a = o.object;
  if (t === undefined || a === undefined || o.ttl !== undefined || o.deltaVersion !== "") return undefined;
  if (
    (o as { $unknown?: unknown[] }).$unknown?.length ||
    (t as { $unknown?: unknown[] }).$unknown?.length ||
    (a as { $unknown?: unknown[] }).$unknown?.length
  )
    return undefined;
  return plainParts(str(t.kind), str(t.type), str(a.typeUrl), a.value);
}

/** kind, type, type URL and value with the lengths of the TypeDescriptor and Any they frame. */
function plainParts(kind: Uint8Array, type: Uint8Array, url: Uint8Array, value: Uint8Array): Plain {
  return {
    kind,
    type,
    url,
    value,
    tdLen: fieldSize(kind.length) + fieldSize(type.length),
    anyLen: fieldSize(url.length) + fieldSize(value.length),
  };
}

function putBytesField(buf: Uint8Array, pos: number, tag: number, b: Uint8Array): number {
  if (b.length === 0) return pos;
  buf[pos++] = tag;
  pos = putVarint(buf, pos, b.length);
  buf.set(b, pos);
  return pos + b.length;
}

/** Parts of a raw outbox entry (OutboxRawEntry): its stored Object bytes, or kind/type/url/value to frame. */
function rawPart(e: OutboxRawEntry): Plain | Uint8Array {
  if (e.encoded !== undefined) return e.encoded;
  return plainParts(str(e.kind ?? ""), str(e.type ?? ""), str(e.typeUrl ?? ""), e.value ?? EMPTY);
}
const EMPTY = new Uint8Array(0);

/**
 * One DeltaRequest holding one Delta per entry, in the given order. `op` overrides every entry's op
 * (resync sends CREATE). Entries are decoded (OutboxEntry, from `read`/`snapshot`) or raw
 * (OutboxRawEntry, from `readRaw`: the stored bytes are spliced in without decoding); both give the
 * same bytes for the same entry.
 */
export function encodeEntries(entries: ReadonlyArray<OutboxEntry | OutboxRawEntry>, suffix: Uint8Array, op?: OutboxOp): EncodedBatch {
  const n = entries.length;
  const parts: Array<Plain | Uint8Array> = new Array(n);
  const objLens = new Array<number>(n);
  const deltaLens = new Array<number>(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    const obj = (e as OutboxEntry).object;
    const p = obj === undefined ? rawPart(e as OutboxRawEntry) : (plain(obj) ?? toBinary(ObjectSchema, obj));
    let objLen: number;
    parts[i] = p;
    if (!(p instanceof Uint8Array)) {
      objLen = 1 + varintSize(p.tdLen) + p.tdLen + 1 + varintSize(p.anyLen) + p.anyLen + suffix.length;
    } else {
      objLen = p.length + suffix.length;
    }
    const code = OP_CODES[op ?? e.op];
    const deltaLen = (code !== 0 ? 2 : 0) + 1 + varintSize(objLen) + objLen;
    objLens[i] = objLen;
    deltaLens[i] = deltaLen;
    total += 1 + varintSize(deltaLen) + deltaLen;
  }
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const code = OP_CODES[op ?? entries[i]!.op];
    buf[pos++] = 0x12; // DeltaRequest.deltas
    pos = putVarint(buf, pos, deltaLens[i]!);
    if (code !== 0) {
      buf[pos++] = 0x08; // Delta.op
      buf[pos++] = code;
    }
    buf[pos++] = 0x12; // Delta.objects
    pos = putVarint(buf, pos, objLens[i]!);
    const p = parts[i]!;
    if (p instanceof Uint8Array) {
      buf.set(p, pos);
      pos += p.length;
    } else {
      buf[pos++] = 0x0a; // Object.type
      pos = putVarint(buf, pos, p.tdLen);
      pos = putBytesField(buf, pos, 0x0a, p.kind); // TypeDescriptor.kind = 1
      pos = putBytesField(buf, pos, 0x22, p.type); // TypeDescriptor.type = 4
      buf[pos++] = 0x12; // Object.object
      pos = putVarint(buf, pos, p.anyLen);
      pos = putBytesField(buf, pos, 0x0a, p.url); // Any.type_url = 1
      pos = putBytesField(buf, pos, 0x12, p.value); // Any.value = 2
    }
    buf.set(suffix, pos);
    pos += suffix.length;
  }
  if (pos !== total) throw new Error(`intake encoder size mismatch: ${pos} != ${total}`);
  return { bytes: buf, deltas: n };
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
