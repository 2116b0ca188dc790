// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Minimal protobuf wire reader for the Kubernetes protobuf encoding
 * (application/vnd.kubernetes.protobuf). The agent passes object bytes through unchanged (minus
 * metadata.managedFields) and reads only the handful of fields the graph needs, addressed by
 * field number. Field numbers are those of k8s.io/api and k8s.io/apimachinery generated.proto
 * (v0.37.2), which are stable across releases (protobuf compatibility rules).
 */

import { putVarint, varintSize } from "../util/varint.ts";

const utf8 = new TextDecoder();

/** "k8s\0": prefix of every Kubernetes protobuf envelope. */
export const K8S_MAGIC = new Uint8Array([0x6b, 0x38, 0x73, 0x00]);

export const WT_VARINT = 0;
export const WT_I64 = 1;
export const WT_LEN = 2;
export const WT_I32 = 5;

export class ProtoError extends Error {
  constructor(msg: string) {
    super(`protobuf: ${msg}`);
    this.name = "ProtoError";
  }
}

/** A field located in a buffer. For LEN fields [start, end) is the payload; for varints `value`. */
export interface Field {
  num: number;
  wt: number;
  /** Offset of the tag (start of the whole field). */
  tagStart: number;
  start: number;
  end: number;
  value: number;
}

function readVarint(buf: Uint8Array, pos: number, out: { v: number; p: number }): void {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new ProtoError("truncated varint");
    const b = buf[pos++]!;
    result += (b & 0x7f) * mul;
    if (b < 0x80) {
      out.v = result;
      out.p = pos;
      return;
    }
    mul *= 128;
  }
  throw new ProtoError("varint too long");
}

/**
 * Iterates the fields of the message in buf[start, end). Callback style (no allocation per field
 * beyond the reused Field object); return `false` from the callback to stop early.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a callback returns true to stop, or nothing to go on
export function eachField(buf: Uint8Array, start: number, end: number, cb: (f: Field) => boolean | void): void {
  const tmp = { v: 0, p: 0 };
  const f: Field = { num: 0, wt: 0, tagStart: 0, start: 0, end: 0, value: 0 };
  let pos = start;
  while (pos < end) {
    const tagStart = pos;
    readVarint(buf, pos, tmp);
    pos = tmp.p;
    const tag = tmp.v;
    const wt = tag & 7;
    const num = Math.floor(tag / 8);
    f.num = num;
    f.wt = wt;
    f.tagStart = tagStart;
    f.value = 0;
    switch (wt) {
      case WT_VARINT:
        readVarint(buf, pos, tmp);
        f.start = pos;
        f.value = tmp.v;
        pos = tmp.p;
        f.end = pos;
        break;
      case WT_I64:
        f.start = pos;
        pos += 8;
        f.end = pos;
        break;
      case WT_I32:
        f.start = pos;
        pos += 4;
        f.end = pos;
        break;
      case WT_LEN: {
        readVarint(buf, pos, tmp);
        f.start = tmp.p;
        f.end = tmp.p + tmp.v;
        pos = f.end;
        break;
      }
      default:
        throw new ProtoError(`unsupported wire type ${wt} at ${tagStart}`);
    }
    if (pos > end) throw new ProtoError(`field ${num} overruns message (${pos} > ${end})`);
    if (cb(f) === false) return;
  }
}

export interface Span {
  start: number;
  end: number;
}

/** First LEN field `num` in buf[start,end), or undefined. */
export function findLen(buf: Uint8Array, start: number, end: number, num: number): Span | undefined {
  let span: Span | undefined;
  eachField(buf, start, end, (f) => {
    if (f.num === num && f.wt === WT_LEN) {
      span = { start: f.start, end: f.end };
      return false;
    }
  });
  return span;
}

/** Every LEN field `num` in buf[start,end). */
export function findAllLen(buf: Uint8Array, start: number, end: number, num: number): Span[] {
  const out: Span[] = [];
  eachField(buf, start, end, (f) => {
    if (f.num === num && f.wt === WT_LEN) out.push({ start: f.start, end: f.end });
  });
  return out;
}

export function str(buf: Uint8Array, s: Span | undefined): string {
  return s ? utf8.decode(buf.subarray(s.start, s.end)) : "";
}

/** String field `num` of the message at span. */
export function getString(buf: Uint8Array, msg: Span | undefined, num: number): string {
  if (!msg) return "";
  return str(buf, findLen(buf, msg.start, msg.end, num));
}

/** Varint field `num` of the message at span (0 when absent). */
export function getVarint(buf: Uint8Array, msg: Span | undefined, num: number): number {
  if (!msg) return 0;
  let v = 0;
  eachField(buf, msg.start, msg.end, (f) => {
    if (f.num === num && f.wt === WT_VARINT) {
      v = f.value;
      return false;
    }
  });
  return v;
}

/** Follows a path of nested message field numbers. */
export function path(buf: Uint8Array, msg: Span | undefined, ...nums: number[]): Span | undefined {
  let cur = msg;
  for (const n of nums) {
    if (!cur) return undefined;
    cur = findLen(buf, cur.start, cur.end, n);
  }
  return cur;
}

/** map<string,string> field `num` (entries key=1, value=2). Order is wire order (sorted keys, as Go marshals). */
export function getStringMap(buf: Uint8Array, msg: Span | undefined, num: number): Array<[string, string]> {
  if (!msg) return [];
  const out: Array<[string, string]> = [];
  for (const e of findAllLen(buf, msg.start, msg.end, num)) {
    out.push([getString(buf, e, 1), getString(buf, e, 2)]);
  }
  return out;
}

/**
 * Returns the message bytes without the fields numbered `drop` inside the nested LEN field
 * `parent` (e.g. drop managedFields=17 inside metadata=1). Returns the input unchanged (same
 * array) when there is nothing to drop.
 */
export function dropNested(buf: Uint8Array, parent: number, drop: number): Uint8Array {
  const meta = findLen(buf, 0, buf.length, parent);
  if (!meta) return buf;
  const keep: Span[] = [];
  let dropped = 0;
  eachField(buf, meta.start, meta.end, (f) => {
    if (f.num === drop) dropped += f.end - f.tagStart;
    else keep.push({ start: f.tagStart, end: f.end });
  });
  if (dropped === 0) return buf;
  // locate the parent field's tag start: scan the top level again
  let parentTag = -1;
  eachField(buf, 0, buf.length, (f) => {
    if (f.num === parent && f.wt === WT_LEN && f.start === meta.start) {
      parentTag = f.tagStart;
      return false;
    }
  });
  const newLen = meta.end - meta.start - dropped;
  const tagBytes = varintSize(parent * 8 + WT_LEN);
  const out = new Uint8Array(buf.length - (meta.end - parentTag) + tagBytes + varintSize(newLen) + newLen);
  let pos = 0;
  out.set(buf.subarray(0, parentTag), pos);
  pos += parentTag;
  pos = putVarint(out, pos, parent * 8 + WT_LEN);
  pos = putVarint(out, pos, newLen);
  // merge adjacent kept ranges into as few copies as possible
  let i = 0;
  while (i < keep.length) {
    const s = keep[i]!.start;
    let e = keep[i]!.end;
    while (i + 1 < keep.length && keep[i + 1]!.start === e) e = keep[++i]!.end;
    out.set(buf.subarray(s, e), pos);
    pos += e - s;
    i++;
  }
  out.set(buf.subarray(meta.end), pos);
  pos += buf.length - meta.end;
  if (pos !== out.length) throw new ProtoError(`rewrite size mismatch ${pos} != ${out.length}`);
  return out;
}

/** Decoded runtime.Unknown envelope (after the k8s\0 magic). `raw` is a view into the input. */
export interface Envelope {
  apiVersion: string;
  kind: string;
  raw: Uint8Array;
}

export function hasMagic(buf: Uint8Array, at = 0): boolean {
  return buf.length >= at + 4 && buf[at] === 0x6b && buf[at + 1] === 0x38 && buf[at + 2] === 0x73 && buf[at + 3] === 0x00;
}

export function decodeEnvelope(buf: Uint8Array): Envelope {
  if (!hasMagic(buf)) throw new ProtoError("missing k8s protobuf magic");
  const tm = findLen(buf, 4, buf.length, 1);
  const raw = findLen(buf, 4, buf.length, 2);
  return {
    apiVersion: getString(buf, tm, 1),
    kind: getString(buf, tm, 2),
    raw: raw ? buf.subarray(raw.start, raw.end) : new Uint8Array(0),
  };
}

/** metav1.ObjectMeta fields the agent reads. */
export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  labels: Array<[string, string]>;
  ownerReferences: OwnerReference[];
  /** metadata.creationTimestamp seconds (0 when absent). */
  creationSeconds: number;
  deleting: boolean;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
}

/** Reads ObjectMeta (field 1) of a top-level object message. */
export function readObjectMeta(buf: Uint8Array): ObjectMeta {
  const m = findLen(buf, 0, buf.length, 1);
  const meta: ObjectMeta = {
    name: "",
    namespace: "",
    uid: "",
    resourceVersion: "",
    labels: [],
    ownerReferences: [],
    creationSeconds: 0,
    deleting: false,
  };
  if (!m) return meta;
  eachField(buf, m.start, m.end, (f) => {
    switch (f.num) {
      case 1:
        meta.name = str(buf, f);
        break;
      case 3:
        meta.namespace = str(buf, f);
        break;
      case 5:
        meta.uid = str(buf, f);
        break;
      case 6:
        meta.resourceVersion = str(buf, f);
        break;
      case 8:
        meta.creationSeconds = getVarint(buf, { start: f.start, end: f.end }, 1);
        break;
      case 9:
        meta.deleting = true;
        break;
      case 11: {
        const e = { start: f.start, end: f.end };
        meta.labels.push([getString(buf, e, 1), getString(buf, e, 2)]);
        break;
      }
      case 13: {
        const e = { start: f.start, end: f.end };
        meta.ownerReferences.push({
          kind: getString(buf, e, 1),
          name: getString(buf, e, 3),
          uid: getString(buf, e, 4),
          apiVersion: getString(buf, e, 5),
          controller: getVarint(buf, e, 6) === 1,
        });
        break;
      }
    }
  });
  return meta;
}

/** Only the resourceVersion of an object's metadata (bookmarks). */
export function readResourceVersion(buf: Uint8Array): string {
  return getString(buf, findLen(buf, 0, buf.length, 1), 6);
}
