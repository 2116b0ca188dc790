// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The resource.v1.Object wrappers the store puts on the wire (type descriptor + Any) and their exact
// encoded size, computed without building them.

import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { ObjectSchema, TypeDescriptorSchema, type Object$ as WireObject } from "../proto/gen/resource/v1/object_pb.ts";
import { varintSize } from "../util/varint.ts";

/**
 * Any type URLs the store puts on the wire (the Go agent's fixed form since November 2025, also for the initial dump). The
 * delete stub's kind is the full descriptor name (the original used the short "Resource") like every
 * other resource object, so kind filters ("resource.v1.Resource") see deletes too.
 */
export { RELATIONSHIP_KIND, RELATIONSHIP_TYPE_URL, RESOURCE_KIND, RESOURCE_TYPE_URL } from "../graph/names.ts";

/** Object{type:{kind,type}, object: Any{typeUrl, value}}; `value` is used as is (not copied). */
export function wireObject(kind: string, type: string, typeUrl: string, value: Uint8Array): WireObject {
  return create(ObjectSchema, {
    type: create(TypeDescriptorSchema, { kind, type }),
    object: create(AnySchema, { typeUrl, value }),
  });
}

function fieldLen(payload: number): number {
  return 1 + varintSize(payload) + payload;
}

function strField(s: string): number {
  return s.length === 0 ? 0 : fieldLen(Buffer.byteLength(s, "utf8"));
}

/** Exact encoded size of wireObject(kind, type, typeUrl, value) without building it. */
export function wireObjectSize(kind: string, type: string, typeUrl: string, valueLen: number): number {
  const td = strField(kind) + strField(type);
  const any = strField(typeUrl) + (valueLen === 0 ? 0 : fieldLen(valueLen));
  return fieldLen(td) + fieldLen(any);
}
