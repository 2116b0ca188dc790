// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// decodeFileDescriptorProto gives what fromBinary(FileDescriptorProtoSchema) gives: for every descriptor
// embedded in the agent (its generated files and protobuf-es's well-known types), for a descriptor with
// every field of descriptor.proto set, and for unknown fields and unknown enum values; the table is current.

import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, base64Decode, WireType } from "@bufbuild/protobuf/wire";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { descriptorTableSource } from "../../scripts/gen-descriptor-table.ts";
import { MESSAGES } from "./descriptor-table.ts";
import { decodeFileDescriptorProto } from "./file-descriptor.ts";

const ROOT = join(import.meta.dir, "..", "..");

function files(dir: string, suffix: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(suffix))
    .map((f) => join(dir, f));
}

/** The base64 descriptors passed to fileDesc() in generated code. */
function embedded(): Array<[string, Uint8Array]> {
  const out: Array<[string, Uint8Array]> = [];
  const sources = [
    ...files(join(ROOT, "src/proto/gen"), "_pb.ts"),
    ...files(join(ROOT, "node_modules/@bufbuild/protobuf/dist/esm/wkt"), "_pb.js"),
  ];
  for (const f of sources)
    for (const m of readFileSync(f, "utf8").matchAll(/fileDesc\("([A-Za-z0-9+/=_-]+)"/g)) out.push([f, base64Decode(m[1]!)]);
  return out;
}

const tableOf = new Map(MESSAGES.map((m) => [m.typeName, m]));

/** Same own properties, same values read through the prototype (defaults), same $unknown, recursively. */
function expectSame(a: unknown, b: unknown, path: string): void {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    expect(a instanceof Uint8Array && b instanceof Uint8Array, path).toBe(true);
    expect([...(a as Uint8Array)], path).toEqual([...(b as Uint8Array)]);
    return;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    expect(Array.isArray(a) && Array.isArray(b), path).toBe(true);
    expect((a as unknown[]).length, path).toBe((b as unknown[]).length);
    for (const [i, x] of (a as unknown[]).entries()) expectSame(x, (b as unknown[])[i], `${path}[${i}]`);
    return;
  }
  if (typeof a !== "object" || a === null) {
    expect(Object.is(a, b), `${path}: ${String(a)} vs ${String(b)}`).toBe(true);
    return;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  expect(Object.keys(x).sort(), path).toEqual(Object.keys(y).sort());
  const table = tableOf.get(String(x.$typeName));
  const names = new Set([
    ...Object.keys(x),
    ...(table ? table.fields.map((f) => f[1]) : []),
    ...(table ? Object.keys(table.defaults) : []),
  ]);
  for (const k of names) expectSame(x[k], y[k], `${path}.${k}`);
}

test("every embedded descriptor decodes as fromBinary decodes it", () => {
  const all = embedded();
  expect(all.length).toBeGreaterThan(30);
  for (const [file, bytes] of all) expectSame(decodeFileDescriptorProto(bytes), fromBinary(FileDescriptorProtoSchema, bytes), file);
});

test("a descriptor with every field of descriptor.proto set decodes as fromBinary decodes it", () => {
  const options = {
    deprecated: true,
    uninterpretedOption: [
      {
        name: [{ namePart: "x", isExtension: true }],
        positiveIntValue: 7n,
        negativeIntValue: -3n,
        doubleValue: 1.5,
        stringValue: new Uint8Array([1, 2]),
        identifierValue: "i",
        aggregateValue: "a",
      },
    ],
  };
  const features = {
    fieldPresence: 1,
    enumType: 2,
    repeatedFieldEncoding: 1,
    utf8Validation: 3,
    messageEncoding: 2,
    jsonFormat: 1,
    enforceNamingStyle: 1,
    defaultSymbolVisibility: 2,
    enforceProtoLimits: 1,
  };
  const field = {
    name: "f",
    number: 3,
    label: 3,
    type: 11,
    typeName: ".p.M",
    extendee: ".p.E",
    defaultValue: "d",
    oneofIndex: 0,
    jsonName: "fJ",
    proto3Optional: true,
    options: {
      ...options,
      ctype: 1,
      packed: true,
      jstype: 2,
      lazy: true,
      unverifiedLazy: true,
      weak: true,
      debugRedact: true,
      retention: 1,
      targets: [1, 9],
      editionDefaults: [{ edition: 1000, value: "v" }],
      features,
      featureSupport: {
        editionIntroduced: 1000,
        editionDeprecated: 1001,
        deprecationWarning: "w",
        editionRemoved: 1001,
        removalError: "e",
      },
    },
  };
  const message = {
    name: "M",
    field: [field],
    extension: [field],
    nestedType: [{ name: "N", field: [field] }],
    enumType: [
      {
        name: "E",
        value: [
          { name: "A", number: -1, options: { ...options, features, debugRedact: true, featureSupport: { editionIntroduced: 1000 } } },
        ],
        options: { ...options, allowAlias: true, deprecatedLegacyJsonFieldConflicts: true, features },
        reservedRange: [{ start: 1, end: 2 }],
        reservedName: ["r"],
        visibility: 1,
      },
    ],
    extensionRange: [
      {
        start: 10,
        end: 20,
        options: {
          ...options,
          declaration: [{ number: 11, fullName: ".x", type: ".t", reserved: true, repeated: true }],
          features,
          verification: 0,
        },
      },
    ],
    oneofDecl: [{ name: "o", options: { ...options, features } }],
    options: {
      ...options,
      messageSetWireFormat: true,
      noStandardDescriptorAccessor: true,
      mapEntry: true,
      deprecatedLegacyJsonFieldConflicts: true,
      features,
    },
    reservedRange: [{ start: 5, end: 6 }],
    reservedName: ["q"],
    visibility: 2,
  };
  const file = create(FileDescriptorProtoSchema, {
    name: "a.proto",
    package: "p",
    dependency: ["b.proto"],
    publicDependency: [0, 2],
    weakDependency: [1],
    optionDependency: ["c.proto"],
    messageType: [message],
    enumType: message.enumType,
    extension: [field],
    service: [
      {
        name: "S",
        method: [
          {
            name: "m",
            inputType: ".p.M",
            outputType: ".p.M",
            clientStreaming: true,
            serverStreaming: true,
            options: { ...options, idempotencyLevel: 2, features },
          },
        ],
        options: { ...options, features },
      },
    ],
    options: {
      ...options,
      javaPackage: "j",
      javaOuterClassname: "J",
      javaMultipleFiles: true,
      javaGenerateEqualsAndHash: true,
      javaStringCheckUtf8: true,
      optimizeFor: 3,
      goPackage: "g",
      ccGenericServices: true,
      javaGenericServices: true,
      pyGenericServices: true,
      ccEnableArenas: false,
      objcClassPrefix: "o",
      csharpNamespace: "c",
      swiftPrefix: "s",
      phpClassPrefix: "p",
      phpNamespace: "n",
      phpMetadataNamespace: "m",
      rubyPackage: "r",
      features,
    },
    sourceCodeInfo: {
      location: [{ path: [4, 0], span: [1, 2, 3], leadingComments: "l", trailingComments: "t", leadingDetachedComments: ["d"] }],
    },
    syntax: "editions",
    edition: 1000,
  } as never);
  const bytes = toBinary(FileDescriptorProtoSchema, file);
  expectSame(decodeFileDescriptorProto(bytes), fromBinary(FileDescriptorProtoSchema, bytes), "full");
  // packed encoding of repeated scalars and enums decodes too
  const packed = new BinaryWriter().tag(10, WireType.LengthDelimited).fork().int32(1).int32(300).join().finish();
  expectSame(decodeFileDescriptorProto(packed), fromBinary(FileDescriptorProtoSchema, packed), "packed");
});

test("unknown fields and unknown closed-enum values are kept in $unknown as fromBinary keeps them", () => {
  const w = new BinaryWriter().tag(1, WireType.LengthDelimited).string("x.proto");
  w.tag(99, WireType.Varint)
    .uint64(5n)
    .tag(98, WireType.LengthDelimited)
    .bytes(new Uint8Array([9, 9]))
    .tag(97, WireType.Bit32)
    .fixed32(1);
  w.tag(14, WireType.Varint).int32(12345).tag(14, WireType.Varint).int32(-7);
  w.tag(4, WireType.LengthDelimited)
    .fork()
    .tag(1, WireType.LengthDelimited)
    .string("M")
    .tag(11, WireType.Varint)
    .int32(42)
    .tag(50, WireType.Varint)
    .int32(1)
    .join();
  w.tag(4, WireType.LengthDelimited).fork().tag(11, WireType.Varint).int32(42).join();
  const bytes = w.finish();
  const mine = decodeFileDescriptorProto(bytes);
  expectSame(mine, fromBinary(FileDescriptorProtoSchema, bytes), "unknown");
  expect(mine.$unknown?.length).toBe(3);
  expect((mine.messageType as Array<{ $unknown?: unknown[] }>)[1]!.$unknown?.length).toBe(1);
});

test("the table is generated from the installed protobuf-es (bun scripts/gen-descriptor-table.ts)", () => {
  expect(readFileSync(join(import.meta.dir, "descriptor-table.ts"), "utf8")).toBe(descriptorTableSource());
});
