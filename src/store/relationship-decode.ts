// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * A decoder of stored resource.v1.Relationship bodies for the store's relationship reads, which
 * return up to hundreds of them per query: protobuf-es' reflective fromBinary costs 3-5 us a
 * relationship, this a fifth to a half of that (bench/store/run.ts, `decode_100_relationships_store_decoder`
 * beside `decode_100_relationships`). It builds the same plain objects fromBinary does
 * (`$typeName`, proto3 defaults for scalars, message fields present only when on the wire) for the
 * fields this agent's relationships use, except that bytes fields are copies where fromBinary gives
 * views of its input; and gives up (returns undefined) on anything else: an unknown field (which
 * fromBinary keeps in `$unknown`), a wire type that does not match, a message field repeated (which
 * fromBinary merges), invalid UTF-8 (which fromBinary rejects), a truncated body. The body then
 * goes to fromBinary, so the result is always what fromBinary returns, field for field
 * (src/store/relationship-decode.test.ts).
 *
 * decodeRelationships() decodes a query's bodies from one buffer (statements.ts concatenates them
 * in SQLite) and copies a sub-message whose bytes are the previous body's instead of decoding it
 * again. Over 400 lines: the decoder of each message and the copy of what it built stay in one place.
 */

import { fromBinary } from "@bufbuild/protobuf";
import { type Relationship, RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Read position and the end of the current message; `ok` turns false on anything unexpected. */
interface Cursor {
  buf: Uint8Array;
  /** decodeRelationships: `buf` as a Buffer, for ASCII strings and byte compares without a view object each. */
  text: Buffer | undefined;
  /** decodeRelationships: the previous body's sub-messages by slot (embedded()), where their bytes are and what they decoded to. */
  seen: Seen[] | undefined;
  pos: number;
  ok: boolean;
}

interface Seen {
  start: number;
  end: number;
  value: unknown;
}

function varint(c: Cursor): number {
  const b = c.buf;
  let x = 0;
  let shift = 0;
  for (;;) {
    if (c.pos >= b.length || shift > 28) {
      c.ok = false;
      return 0;
    }
    const v = b[c.pos++]!;
    x += (v & 0x7f) * 2 ** shift;
    if (v < 0x80) return x;
    shift += 7;
  }
}

/** A varint of up to 10 bytes as a signed 64-bit bigint (int64), as protobuf-es decodes it. */
function int64(c: Cursor): bigint {
  const b = c.buf;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < 10; i++) {
    if (c.pos >= b.length) break;
    const v = b[c.pos++]!;
    if (i < 4) lo |= (v & 0x7f) << (7 * i);
    else if (i === 4) {
      lo |= (v & 0x0f) << 28;
      hi = (v & 0x7f) >> 4;
    } else hi |= (v & 0x7f) << (7 * i - 32);
    if (v < 0x80) {
      if (hi === 0) return BigInt(lo >>> 0);
      return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
    }
  }
  c.ok = false;
  return 0n;
}

/** A varint of up to 10 bytes as int32 (its low 32 bits, as protobuf-es decodes int32). */
function int32(c: Cursor): number {
  const b = c.buf;
  let x = 0;
  for (let i = 0; i < 10; i++) {
    if (c.pos >= b.length) break;
    const v = b[c.pos++]!;
    if (i < 5) x |= (v & 0x7f) << (7 * i);
    if (v < 0x80) return x | 0;
  }
  c.ok = false;
  return 0;
}

/** The end of a length-delimited field starting at c.pos (after its length). */
function lenEnd(c: Cursor, end: number): number {
  const n = varint(c);
  const e = c.pos + n;
  if (e > end) c.ok = false;
  return e;
}

/**
 * Short ASCII strings decoded before, one per slot of a hash of their bytes (a newer string takes
 * the slot), so the table never holds more than STRING_SLOTS strings. A query's relationships
 * repeat most of their strings (kind, type, type URLs, clusters, namespaces, the queried endpoint):
 * a hit costs a hash and a compare instead of a TextDecoder call and a new string, which made
 * decoding 100 relationships ~25% cheaper (strings were ~3/4 of the decoder's time).
 */
const STRING_SLOTS = 1024;
const MAX_CACHED_LENGTH = 64;
const seenStrings: (string | undefined)[] = new Array(STRING_SLOTS).fill(undefined);

function str(c: Cursor, end: number): string {
  const e = lenEnd(c, end);
  if (!c.ok) return "";
  const start = c.pos;
  c.pos = e;
  let slot = -1;
  if (e - start <= MAX_CACHED_LENGTH) {
    const b = c.buf;
    let h = 0x811c9dc5;
    let bits = 0;
    for (let i = start; i < e; i++) {
      const v = b[i]!;
      bits |= v;
      h = Math.imul(h ^ v, 0x01000193);
    }
    if (bits < 0x80) {
      // ASCII: one char per byte, always valid UTF-8
      slot = (h ^ (h >>> 15)) & (STRING_SLOTS - 1);
      const seen = seenStrings[slot];
      if (seen !== undefined && seen.length === e - start) {
        let i = 0;
        while (i < seen.length && seen.charCodeAt(i) === b[start + i]) i++;
        if (i === seen.length) return seen;
      }
    }
  }
  if (slot >= 0 && c.text !== undefined) {
    const s = c.text.toString("latin1", start, e); // checked ASCII above: latin1 and UTF-8 agree
    seenStrings[slot] = s;
    return s;
  }
  try {
    const s = utf8.decode(c.buf.subarray(start, e));
    if (slot >= 0) seenStrings[slot] = s;
    return s;
  } catch (err) {
    // invalid UTF-8: fromBinary rejects it too (proto3 strings are validated), with its own error
    if (!(err instanceof TypeError)) throw err;
    c.ok = false;
    return "";
  }
}

/** A bytes field, copied: a view would keep the whole buffer alive (decodeRelationships: every body of a query). */
function bytes(c: Cursor, end: number): Uint8Array {
  const e = lenEnd(c, end);
  if (!c.ok) return new Uint8Array(0);
  const v = c.buf.slice(c.pos, e);
  c.pos = e;
  return v;
}

/** Decodes a message whose fields are all strings: `names[n-1]` is field n's property. */
function strings(c: Cursor, end: number, typeName: string, names: readonly string[]): unknown {
  const m: Record<string, unknown> = { $typeName: typeName };
  for (const n of names) m[n] = "";
  while (c.ok && c.pos < end) {
    const tag = varint(c);
    const name = names[(tag >>> 3) - 1];
    if ((tag & 7) !== 2 || name === undefined) c.ok = false;
    else m[name] = str(c, end);
  }
  return m;
}

function typeDescriptor(c: Cursor, end: number): unknown {
  const m = { $typeName: "resource.v1.TypeDescriptor", kind: "", type: "" };
  while (c.ok && c.pos < end) {
    const tag = varint(c);
    if ((tag & 7) !== 2) c.ok = false;
    else if (tag >>> 3 === 1) m.kind = str(c, end);
    else if (tag >>> 3 === 4) m.type = str(c, end);
    else c.ok = false;
  }
  return m;
}

/**
 * Decodes the embedded message at c.pos (its length first) with `f`; the message must end exactly at
 * its length. With a `slot` (one per place in a Relationship: its type, subject, object, predicate,
 * a ref's namespace) in decodeRelationships: when the bytes are those of the last message decoded
 * in that slot, byte for byte (a by-object query's rows all name the same object, and mostly the
 * same type, predicate and namespaces), a copy of what that decoded to instead of decoding again.
 * Only messages decoded completely are remembered, so a copy is always what `f` would return.
 */
function embedded(c: Cursor, end: number, f: (c: Cursor, end: number) => unknown, slot = 0): unknown {
  const e = lenEnd(c, end);
  if (!c.ok) return undefined;
  const start = c.pos;
  const seen = slot === 0 ? undefined : c.seen;
  const prev = seen?.[slot];
  if (prev !== undefined && prev.end - prev.start === e - start && c.text!.compare(c.text!, start, e, prev.start, prev.end) === 0) {
    c.pos = e;
    return copy(prev.value);
  }
  const m = f(c, e);
  if (c.pos !== e) c.ok = false;
  else if (seen !== undefined && c.ok) {
    if (prev === undefined) seen[slot] = { start, end: e, value: m };
    else {
      prev.start = start;
      prev.end = e;
      prev.value = m;
    }
  }
  return m;
}

/**
 * A deep copy of a message this decoder built: the same keys in the same order, bytes copied. The
 * messages of every query's rows have their own copy; anything else is copied key by key.
 */
function copy(v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  if (v instanceof Uint8Array) return v.slice();
  const m = v as Record<string, unknown>;
  switch (m.$typeName) {
    case "resource.v1.TypeDescriptor":
      return { $typeName: m.$typeName, kind: m.kind, type: m.type };
    case "google.protobuf.Any":
      return { $typeName: m.$typeName, typeUrl: m.typeUrl, value: (m.value as Uint8Array).slice() };
    case "resource.v1.KubernetesNamespace":
      return { $typeName: m.$typeName, cluster: m.cluster, namespace: m.namespace };
    case "resource.v1.Namespace": {
      const ns = m.namespace as { case: string | undefined; value?: unknown };
      return { $typeName: m.$typeName, namespace: ns.case === undefined ? { case: undefined } : { case: ns.case, value: copy(ns.value) } };
    }
    case "resource.v1.ResourceRef": {
      const r: Record<string, unknown> = { $typeName: m.$typeName, typeUrl: m.typeUrl, name: m.name };
      if (m.namespace !== undefined) r.namespace = copy(m.namespace);
      return r;
    }
  }
  const o: Record<string, unknown> = {};
  for (const k in m) o[k] = copy(m[k]);
  return o;
}

function namespaceOf(c: Cursor, end: number): unknown {
  let ns: { case: string | undefined; value?: unknown } = { case: undefined };
  while (c.ok && c.pos < end) {
    const tag = varint(c);
    if ((tag & 7) !== 2 || ns.case !== undefined) {
      c.ok = false;
      break;
    }
    switch (tag >>> 3) {
      case 1:
        ns = { case: "cloud", value: embedded(c, end, cloud) };
        break;
      case 2:
        ns = { case: "kube", value: embedded(c, end, kubeNamespace) };
        break;
      case 3:
        ns = { case: "host", value: embedded(c, end, hostNamespace) };
        break;
      default:
        c.ok = false;
    }
  }
  return { $typeName: "resource.v1.Namespace", namespace: ns };
}

const kubeNamespace = (c: Cursor, end: number) => strings(c, end, "resource.v1.KubernetesNamespace", ["cluster", "namespace"]);
const hostNamespace = (c: Cursor, end: number) => strings(c, end, "resource.v1.HostNamespace", ["host", "container"]);
const providerAccount = (c: Cursor, end: number) => strings(c, end, "resource.v1.ProviderAccount", ["accountId", "accountName"]);

function cloud(c: Cursor, end: number): unknown {
  const m: Record<string, unknown> = { $typeName: "resource.v1.CloudNamespace", region: "", group: "" };
  while (c.ok && c.pos < end) {
    const tag = varint(c);
    const f = tag >>> 3;
    if ((tag & 7) !== 2 || (f === 1 && m.account !== undefined)) c.ok = false;
    else if (f === 1) m.account = embedded(c, end, providerAccount);
    else if (f === 2) m.region = str(c, end);
    else if (f === 3) m.group = str(c, end);
    else c.ok = false;
  }
  return m;
}

function resourceRef(c: Cursor, end: number): unknown {
  const m: Record<string, unknown> = { $typeName: "resource.v1.ResourceRef", typeUrl: "", name: "" };
  while (c.ok && c.pos < end) {
    const tag = varint(c);
    const f = tag >>> 3;
    if ((tag & 7) !== 2 || (f === 3 && m.namespace !== undefined)) c.ok = false;
    else if (f === 1) m.typeUrl = str(c, end);
    else if (f === 2) m.name = str(c, end);
    else if (f === 3) m.namespace = embedded(c, end, namespaceOf, NAMESPACE_SLOT);
    else c.ok = false;
  }
  return m;
}

function any(c: Cursor, end: number): unknown {
  const m: Record<string, unknown> = { $typeName: "google.protobuf.Any", typeUrl: "", value: new Uint8Array(0) };
  while (c.ok && c.pos < end) {
    const tag = varint(c);
    const f = tag >>> 3;
    if ((tag & 7) !== 2) c.ok = false;
    else if (f === 1) m.typeUrl = str(c, end);
    else if (f === 2) m.value = bytes(c, end);
    else c.ok = false;
  }
  return m;
}

function timestamp(c: Cursor, end: number): unknown {
  const m: { $typeName: string; seconds: bigint; nanos: number } = { $typeName: "google.protobuf.Timestamp", seconds: 0n, nanos: 0 };
  while (c.ok && c.pos < end) {
    const tag = varint(c);
    if ((tag & 7) !== 0) c.ok = false;
    else if (tag >>> 3 === 1) m.seconds = int64(c);
    else if (tag >>> 3 === 2) m.nanos = int32(c);
    else c.ok = false;
  }
  return m;
}

/** embedded()'s slot of a ResourceRef's namespace (a Relationship's fields use their own numbers, 1-5). */
const NAMESPACE_SLOT = 9;

/** The fast path alone: a Relationship, or undefined when the body holds anything it does not handle. */
export function decodeRelationshipFast(buf: Uint8Array): Relationship | undefined {
  return relationshipAt({ buf, text: undefined, seen: undefined, pos: 0, ok: true }, buf.length);
}

/** The Relationship from c.pos to `end`, or undefined (c.ok false) when it holds anything the fast path does not handle. */
function relationshipAt(c: Cursor, end: number): Relationship | undefined {
  // id second, as fromBinary has it (a proto3 bytes field is always set); its default is set at the end when absent
  const m: Record<string, unknown> = { $typeName: "resource.v1.Relationship", id: undefined };
  while (c.ok && c.pos < end) {
    const tag = varint(c);
    const f = tag >>> 3;
    if ((tag & 7) !== 2) c.ok = false;
    else if (f === 2) m.id = bytes(c, end);
    else if (f === 1 && m.type === undefined) m.type = embedded(c, end, typeDescriptor, 1);
    else if (f === 3 && m.subject === undefined) m.subject = embedded(c, end, resourceRef, 3);
    else if (f === 4 && m.object === undefined) m.object = embedded(c, end, resourceRef, 4);
    else if (f === 5 && m.predicate === undefined) m.predicate = embedded(c, end, any, 5);
    else if (f === 6 && m.createdAt === undefined) m.createdAt = embedded(c, end, timestamp);
    else if (f === 7 && m.updatedAt === undefined) m.updatedAt = embedded(c, end, timestamp);
    else if (f === 8 && m.deletedAt === undefined) m.deletedAt = embedded(c, end, timestamp);
    else c.ok = false; // another field, or a message field again (fromBinary merges the two)
  }
  if (m.id === undefined) m.id = new Uint8Array(0);
  return c.ok ? (m as unknown as Relationship) : undefined;
}

/** A stored Relationship body, decoded: the fast path, or fromBinary for what it does not handle. */
export function decodeRelationship(buf: Uint8Array): Relationship {
  return decodeRelationshipFast(buf) ?? fromBinary(RelationshipSchema, buf);
}

/**
 * Relationship bodies stored back to back in `bodies`, decoded in order; `lengths` holds their byte
 * lengths as decimal numbers separated by commas (what SQLite's group_concat(length(body)) gives).
 * One buffer for a query's rows instead of one per row, and sub-messages repeated from the body
 * before copied instead of decoded (embedded()). A body the fast path does not handle goes to
 * fromBinary as a copy (its bytes fields would be views of the whole buffer otherwise).
 */
export function decodeRelationships(bodies: Uint8Array, lengths: string): Relationship[] {
  const out: Relationship[] = [];
  if (lengths === "") return out;
  const text = Buffer.from(bodies.buffer, bodies.byteOffset, bodies.byteLength);
  const c: Cursor = { buf: bodies, text, seen: [], pos: 0, ok: true };
  let start = 0;
  let n = 0;
  for (let i = 0; i <= lengths.length; i++) {
    const d = i < lengths.length ? lengths.charCodeAt(i) - 48 : -1;
    if (d >= 0 && d <= 9) {
      n = n * 10 + d;
      continue;
    }
    const end = start + n;
    if (end > bodies.length) throw new Error(`relationship bodies: length ${n} at ${start} is past the end (${bodies.length} bytes)`);
    c.pos = start;
    c.ok = true;
    const rel = relationshipAt(c, end);
    out.push(rel !== undefined && c.pos === end ? rel : fromBinary(RelationshipSchema, bodies.slice(start, end)));
    start = end;
    n = 0;
  }
  if (start !== bodies.length) throw new Error(`relationship bodies: ${bodies.length - start} bytes after the last of ${out.length}`);
  return out;
}
