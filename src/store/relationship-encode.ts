// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The stored body of a resource.v1.Relationship, byte for byte what protobuf-es' toBinary writes,
 * with far less garbage: a sync of 10k pods writes ~80k relationships, and toBinary builds each one
 * through a writer that forks a buffer per sub-message and encodes every string again. Here the
 * sub-messages that relationships share - the refs of their ends, the type descriptor, an empty
 * predicate - are encoded once when they are frozen (`freezeShared` in src/graph/keys.ts: a frozen
 * message cannot change, so its bytes can be kept beside it), and the body is one array of the
 * right size filled from those pieces. A relationship with anything else set (timestamps, unknown
 * fields) goes to toBinary. src/store/relationship-encode.test.ts holds it to toBinary.
 */

import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { TypeDescriptorSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { type Relationship, RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";
import { ResourceRefSchema } from "../proto/gen/resource/v1/resource_pb.ts";

const sharedBytes = new WeakMap<object, Uint8Array>();

/** The encoding of a sub-message: kept beside it when it is frozen, else encoded now. */
function piece<D extends DescMessage>(schema: D, msg: MessageShape<D>): Uint8Array {
  if (!Object.isFrozen(msg)) return toBinary(schema, msg);
  let bytes = sharedBytes.get(msg);
  if (bytes === undefined) {
    bytes = toBinary(schema, msg);
    sharedBytes.set(msg, bytes);
  }
  return bytes;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n >>>= 7;
    size++;
  }
  return size;
}

/** Writes field `tag` (length-delimited) with `bytes` at `at`; returns the new end. */
function putField(out: Uint8Array, at: number, tag: number, bytes: Uint8Array): number {
  out[at++] = tag;
  let n = bytes.length;
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[at++] = n;
  out.set(bytes, at);
  return at + bytes.length;
}

const fieldSize = (bytes: Uint8Array | undefined) => (bytes ? 1 + varintSize(bytes.length) + bytes.length : 0);

/** toBinary(RelationshipSchema, rel), from the shared pieces where it can. */
export function encodeRelationship(rel: Relationship): Uint8Array {
  if (rel.createdAt || rel.updatedAt || rel.deletedAt || rel.$unknown?.length) return toBinary(RelationshipSchema, rel);
  // field order as toBinary: type (1), id (2), subject (3), object (4), predicate (5)
  const type = rel.type && piece(TypeDescriptorSchema, rel.type);
  const id = rel.id.length > 0 ? rel.id : undefined;
  const subject = rel.subject && piece(ResourceRefSchema, rel.subject);
  const object = rel.object && piece(ResourceRefSchema, rel.object);
  const predicate = rel.predicate && piece(AnySchema, rel.predicate);
  const out = new Uint8Array(fieldSize(type) + fieldSize(id) + fieldSize(subject) + fieldSize(object) + fieldSize(predicate));
  let at = 0;
  if (type) at = putField(out, at, 0x0a, type);
  if (id) at = putField(out, at, 0x12, id);
  if (subject) at = putField(out, at, 0x1a, subject);
  if (object) at = putField(out, at, 0x22, object);
  if (predicate) putField(out, at, 0x2a, predicate);
  return out;
}
