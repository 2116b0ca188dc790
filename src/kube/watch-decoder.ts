// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Pure decoders of the Kubernetes protobuf wire for list/watch (apimachinery's StreamWatcher
// decoder and List unmarshalling): byte chunks → length-prefixed frames → watch events, and a LIST
// page → its items. No IO, no cache: the reflector decides what an event means.

import { decodeEnvelope, eachField, findAllLen, findLen, getString, getVarint, hasMagic, str } from "./pb.ts";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** One watch event: its type and the object's protobuf bytes (envelope removed; a view, not a copy). */
export interface WatchEvent {
  type: WatchEventType;
  object: Uint8Array;
}

/** metav1.Status of an ERROR event (a 410 means the resourceVersion expired). */
export interface WatchStatus {
  code: number;
  reason: string;
  message: string;
}

const EVENT_TYPES = new Set<string>(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]);

/**
 * Splits a watch stream into frames: each is a 4-byte big-endian length and that many bytes
 * (apimachinery's LengthDelimitedFramer). Chunks may end anywhere, even inside the length.
 */
export class FrameSplitter {
  private buf: Uint8Array = new Uint8Array(0);

  /** Feeds one chunk; returns the frames it completes (views that stay valid until the next push). */
  push(chunk: Uint8Array): Uint8Array[] {
    this.buf = this.buf.length ? concat(this.buf, chunk) : chunk;
    const frames: Uint8Array[] = [];
    let off = 0;
    while (this.buf.length - off >= 4) {
      const len = ((this.buf[off]! << 24) | (this.buf[off + 1]! << 16) | (this.buf[off + 2]! << 8) | this.buf[off + 3]!) >>> 0;
      if (this.buf.length - off - 4 < len) break;
      frames.push(this.buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    this.buf = off === this.buf.length ? new Uint8Array(0) : this.buf.slice(off);
    return frames;
  }

  /** Bytes of an incomplete frame held back (non-zero when a stream ends mid-frame). */
  pending(): number {
    return this.buf.length;
  }
}

/** One frame to a WatchEvent (metav1.WatchEvent: type=1, object=2 as runtime.RawExtension{raw=1}). */
export function decodeWatchFrame(frame: Uint8Array): WatchEvent {
  // the stream serializer writes each WatchEvent raw (no envelope); the object inside has one
  const we = hasMagic(frame) ? decodeEnvelope(frame).raw : frame;
  let type = "";
  let objBytes: Uint8Array | undefined;
  eachField(we, 0, we.length, (f) => {
    if (f.num === 1) type = str(we, f);
    else if (f.num === 2) {
      const rawExt = findLen(we, f.start, f.end, 1);
      if (rawExt) objBytes = we.subarray(rawExt.start, rawExt.end);
    }
  });
  if (!EVENT_TYPES.has(type)) throw new Error(`unknown watch event type ${JSON.stringify(type)}`);
  if (!objBytes) throw new Error(`watch event ${type} without object`);
  return { type: type as WatchEventType, object: hasMagic(objBytes) ? decodeEnvelope(objBytes).raw : objBytes };
}

/** The metav1.Status of an ERROR event (message=3, reason=4, code=6). */
export function decodeStatus(object: Uint8Array): WatchStatus {
  const all = { start: 0, end: object.length };
  return { code: getVarint(object, all, 6), reason: getString(object, all, 4), message: getString(object, all, 3) };
}

/** One LIST page: the list's resourceVersion and continue token, and each item's bytes (views). */
export interface ListPage {
  resourceVersion: string;
  continueToken: string;
  items: Uint8Array[];
}

/** A LIST response body (enveloped *List: metadata=1 {resourceVersion=2, continue=3}, items=2). */
export function decodeListPage(body: Uint8Array): ListPage {
  const list = decodeEnvelope(body).raw;
  const listMeta = findLen(list, 0, list.length, 1);
  return {
    resourceVersion: getString(list, listMeta, 2),
    continueToken: getString(list, listMeta, 3),
    items: findAllLen(list, 0, list.length, 2).map((s) => list.subarray(s.start, s.end)),
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
