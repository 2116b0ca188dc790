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

const fieldSize = (len: number) => (len === 0 ? 0 : 1 + varintSize(len) + len);

/**
 * The constant bytes of Object{type{kind,type}, object: Any{type_url, value}} for one kind, type and
 * type URL: `head` = the Object.type field complete + the Object.object tag, `url` = the
 * Any.type_url field. Cached by type (bounded): an entry then costs one lookup and three copies
 * (head, url, value) instead of building each field.
 */
interface Head {
  kind: string;
  typeUrl: string;
  head: Uint8Array;
  url: Uint8Array;
}
const heads = new Map<string, Head>();

function headOf(kind: string, type: string, typeUrl: string): Head {
  const cached = heads.get(type);
  if (cached !== undefined && cached.kind === kind && cached.typeUrl === typeUrl) return cached;
  const k = utf8.encode(kind);
  const t = utf8.encode(type);
  const u = utf8.encode(typeUrl);
  const tdLen = fieldSize(k.length) + fieldSize(t.length);
  const head = new Uint8Array(1 + varintSize(tdLen) + tdLen + 1);
  head[0] = 0x0a; // Object.type
  let pos = putVarint(head, 1, tdLen);
  pos = putBytesField(head, pos, 0x0a, k); // TypeDescriptor.kind = 1
  pos = putBytesField(head, pos, 0x22, t); // TypeDescriptor.type = 4
  head[pos] = 0x12; // Object.object
  const url = new Uint8Array(fieldSize(u.length));
  putBytesField(url, 0, 0x0a, u); // Any.type_url = 1
  const h: Head = { kind, typeUrl, head, url };
  if (heads.size >= 4096) heads.clear();
  heads.set(type, h);
  return h;
}

/** Length of the Any framing `value` behind `h.url`. */
const anyLen = (h: Head, value: Uint8Array) => h.url.length + fieldSize(value.length);

/**
 * Fast path for the shape the store produces: Object{type{kind,type}, object: Any{type_url, value}}
 * and nothing else (no ttl/delta_version/unknown fields). Anything else goes through toBinary.
 */
function plain(o: OutboxEntry["object"]): Head | undefined {
  const t = o.type;
  const a = o.object;
  if (t === undefined || a === undefined || o.ttl !== undefined || o.deltaVersion !== "") return undefined;
  if (
    (o as { $unknown?: unknown[] }).$unknown?.length ||
    (t as { $unknown?: unknown[] }).$unknown?.length ||
    (a as { $unknown?: unknown[] }).$unknown?.length
  )
    return undefined;
  return headOf(t.kind, t.type, a.typeUrl);
}

function putBytesField(buf: Uint8Array, pos: number, tag: number, b: Uint8Array): number {
  if (b.length === 0) return pos;
  buf[pos++] = tag;
  pos = putVarint(buf, pos, b.length);
  buf.set(b, pos);
  return pos + b.length;
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
  // per entry: its complete Object bytes (without the suffix), or the cached head and the Any's value
  const parts: Array<Head | Uint8Array> = new Array(n);
  const values: Uint8Array[] = new Array(n);
  const objLens = new Array<number>(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    const obj = (e as OutboxEntry).object;
    let objLen: number;
    if (obj === undefined) {
      const r = e as OutboxRawEntry;
      if (r.encoded !== undefined) {
        parts[i] = r.encoded;
        objLen = r.encoded.length;
      } else {
        const h = headOf(r.kind ?? "", r.type ?? "", r.typeUrl ?? "");
        const v = r.value ?? EMPTY;
        parts[i] = h;
        values[i] = v;
        const al = anyLen(h, v);
        objLen = h.head.length + varintSize(al) + al;
      }
    } else {
      const h = plain(obj);
      if (h === undefined) {
        const b = toBinary(ObjectSchema, obj);
        parts[i] = b;
        objLen = b.length;
      } else {
        const v = obj.object!.value;
        parts[i] = h;
        values[i] = v;
        const al = anyLen(h, v);
        objLen = h.head.length + varintSize(al) + al;
      }
    }
    objLen += suffix.length;
    const code = OP_CODES[op ?? e.op];
    const deltaLen = (code !== 0 ? 2 : 0) + 1 + varintSize(objLen) + objLen;
    objLens[i] = objLen;
    total += 1 + varintSize(deltaLen) + deltaLen;
  }
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const code = OP_CODES[op ?? entries[i]!.op];
    const objLen = objLens[i]!;
    buf[pos++] = 0x12; // DeltaRequest.deltas
    pos = putVarint(buf, pos, (code !== 0 ? 2 : 0) + 1 + varintSize(objLen) + objLen);
    if (code !== 0) {
      buf[pos++] = 0x08; // Delta.op
      buf[pos++] = code;
    }
    buf[pos++] = 0x12; // Delta.objects
    pos = putVarint(buf, pos, objLen);
    const p = parts[i]!;
    if (p instanceof Uint8Array) {
      buf.set(p, pos);
      pos += p.length;
    } else {
      const v = values[i]!;
      buf.set(p.head, pos); // Object.type, then the Object.object tag
      pos = putVarint(buf, pos + p.head.length, anyLen(p, v));
      buf.set(p.url, pos); // Any.type_url
      pos = putBytesField(buf, pos + p.url.length, 0x12, v); // Any.value = 2
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
