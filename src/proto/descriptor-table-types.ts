// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The format of src/proto/descriptor-table.ts (generated): one entry per message of descriptor.proto.

export const SCALAR = 0;
export const ENUM = 1;
export const MESSAGE = 2;
export const LIST_SCALAR = 3;
export const LIST_ENUM = 4;
export const LIST_MESSAGE = 5;
export type FieldKind = typeof SCALAR | typeof ENUM | typeof MESSAGE | typeof LIST_SCALAR | typeof LIST_ENUM | typeof LIST_MESSAGE;

/** [field number, local name, kind, scalar type (ScalarType) | enum index | message index]. */
export type FieldTable = readonly [number, string, FieldKind, number];

export interface MessageTable {
  typeName: string;
  /** The message's prototype values: proto2 defaults of its singular scalar and enum fields. */
  defaults: Record<string, unknown>;
  fields: readonly FieldTable[];
}
