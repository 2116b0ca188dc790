// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Decodes a google.protobuf.FileDescriptorProto (the descriptors protobuf-es embeds in every
 * generated _pb file) into the very objects `fromBinary(FileDescriptorProtoSchema, bytes)` gives
 * (same own fields, same proto2 defaults on the prototype, unknown fields and unknown closed-enum
 * values in `$unknown`), from a generated table instead of descriptor.proto's own descriptor.
 * The compiled agent hydrates its descriptors with it (scripts/build-plugins.ts): booting
 * descriptor.proto and decoding reflectively was the largest block of work before /readyz
 * (docs/performance.md). src/proto/file-descriptor.test.ts holds it to fromBinary byte for byte.
 */

import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { ENUM_VALUES, MESSAGES } from "./descriptor-table.ts";
import { ENUM, LIST_ENUM, LIST_MESSAGE, LIST_SCALAR, MESSAGE, type MessageTable, SCALAR } from "./descriptor-table-types.ts";

// ScalarType numbers (descriptor.proto uses these)
const DOUBLE = 1;
const INT64 = 3;
const UINT64 = 4;
const INT32 = 5;
const BOOL = 8;
const STRING = 9;
const BYTES = 12;

interface UnknownField {
  no: number;
  wireType: WireType;
  data: Uint8Array;
}
type Message = Record<string, unknown> & { $unknown?: UnknownField[] };

interface Compiled {
  table: MessageTable;
  prototype: object;
  byNumber: Map<number, MessageTable["fields"][number]>;
  lists: string[];
}

let compiled: Compiled[] | undefined;

function compile(): Compiled[] {
  return MESSAGES.map((table) => ({
    table,
    prototype: { ...table.defaults },
    byNumber: new Map(table.fields.map((f) => [f[0], f])),
    lists: table.fields.filter((f) => f[2] >= LIST_SCALAR).map((f) => f[1]),
  }));
}

/** A new message of table entry `i`, as protobuf-es's create() makes one for a proto2 message. */
function newMessage(c: Compiled): Message {
  const m = Object.create(c.prototype) as Message;
  m.$typeName = c.table.typeName;
  for (const name of c.lists) m[name] = [];
  return m;
}

function readScalar(reader: BinaryReader, type: number): unknown {
  switch (type) {
    case STRING:
      return reader.string();
    case INT32:
      return reader.int32();
    case BOOL:
      return reader.bool();
    case UINT64:
      return reader.uint64();
    case INT64:
      return reader.int64();
    case DOUBLE:
      return reader.double();
    case BYTES:
      return reader.bytes();
    default:
      throw new Error(`descriptor.proto has no field of scalar type ${type}`);
  }
}

function readMessage(all: Compiled[], c: Compiled, m: Message, reader: BinaryReader, length: number, depth: number): void {
  if (depth > 100) throw new Error(`cannot decode message ${c.table.typeName} from binary: maximum recursion depth of 100 reached`);
  const end = reader.pos + length;
  const unknown = m.$unknown ?? [];
  while (reader.pos < end) {
    const [no, wireType] = reader.tag();
    const f = c.byNumber.get(no);
    if (f === undefined) {
      unknown.push({ no, wireType, data: reader.skip(wireType, no, 100 - depth) });
      continue;
    }
    const [, name, kind, arg] = f;
    switch (kind) {
      case SCALAR:
        m[name] = readScalar(reader, arg);
        break;
      case ENUM:
      case LIST_ENUM: {
        if (kind === LIST_ENUM && wireType === WireType.LengthDelimited) {
          const stop = reader.uint32() + reader.pos;
          while (reader.pos < stop) enumValue(m, name, arg, true, no, WireType.Varint, reader.int32());
        } else enumValue(m, name, arg, kind === LIST_ENUM, no, wireType, reader.int32());
        break;
      }
      case MESSAGE: {
        const sub = all[arg]!;
        const child = (m[name] as Message | undefined) ?? newMessage(sub);
        readMessage(all, sub, child, reader, reader.uint32(), depth + 1);
        m[name] = child;
        break;
      }
      case LIST_SCALAR: {
        const items = m[name] as unknown[];
        if (wireType === WireType.LengthDelimited && arg !== STRING && arg !== BYTES) {
          const stop = reader.uint32() + reader.pos;
          while (reader.pos < stop) items.push(readScalar(reader, arg));
        } else items.push(readScalar(reader, arg));
        break;
      }
      case LIST_MESSAGE: {
        const sub = all[arg]!;
        const child = newMessage(sub);
        readMessage(all, sub, child, reader, reader.uint32(), depth + 1);
        (m[name] as unknown[]).push(child);
        break;
      }
    }
  }
  if (unknown.length > 0) m.$unknown = unknown;
}

/**
 * A closed enum's value: a known number is set (or appended), an unknown one is kept as an unknown
 * varint field, in `m.$unknown` as it is at that moment, as fromBinary does (so, as there, unknown
 * fields read later in the same message replace it).
 */
function enumValue(m: Message, name: string, e: number, list: boolean, no: number, wireType: WireType, v: number) {
  if (ENUM_VALUES[e]!.includes(v)) {
    if (list) (m[name] as number[]).push(v);
    else m[name] = v;
    return;
  }
  const unknown = m.$unknown ?? [];
  unknown.push({ no, wireType, data: new BinaryWriter().int32(v).finish() });
  m.$unknown = unknown;
}

/** `fromBinary(FileDescriptorProtoSchema, bytes)` without descriptor.proto's descriptor. */
export function decodeFileDescriptorProto(bytes: Uint8Array): Message {
  compiled ??= compile();
  const root = compiled[0]!;
  const m = newMessage(root);
  readMessage(compiled, root, m, new BinaryReader(bytes), bytes.byteLength, 1);
  return m;
}
