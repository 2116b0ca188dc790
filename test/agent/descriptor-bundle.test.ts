// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The compiled agent's protobuf descriptors (scripts/build-plugins.ts hydrates them with
 * src/proto/file-descriptor.ts instead of booting descriptor.proto) are the source's: every generated
 * file and the well-known types it uses give the same messages, fields (number, kind, JSON name,
 * presence, packing, default), enums, services and options in a bundle built with the binary's plugins
 * as from src/ directly, and descriptor.proto's own descriptor is not in the bundle.
 */

import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { bundleWithPlugins, runJson } from "../helpers/plugin-bundle.ts";

const root = path.join(import.meta.dir, "../..");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "descriptor-bundle-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test("bundled with the binary's plugins, every descriptor is the source's and descriptor.proto is not booted", async () => {
  const gen = path.join(root, "src/proto/gen");
  const pbFiles = (fs.readdirSync(gen, { recursive: true, encoding: "utf8" }) as string[]).filter((f) => f.endsWith("_pb.ts")).sort();
  expect(pbFiles.length).toBeGreaterThan(20);
  const b = await bundleWithPlugins(dir, [
    ...pbFiles.map((f, i) => `import * as m${i} from ${JSON.stringify(path.join(gen, f))};`),
    `const mods = [${pbFiles.map((_, i) => `m${i}`).join(", ")}];`,
    "const files = new Map();",
    "const add = (f) => { if (files.has(f.name)) return; files.set(f.name, f); for (const d of f.dependencies) add(d); };",
    "for (const m of mods) for (const [k, v] of Object.entries(m)) if (k.startsWith('file_')) add(v);",
    "const opt = (o) => (o ? JSON.stringify(o, (k, v) => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? [...v] : v)) : undefined);",
    "const field = (f) => ({ name: f.name, number: f.number, kind: f.fieldKind, scalar: f.scalar, listKind: f.listKind, mapKind: f.mapKind, mapKey: f.mapKey,",
    "  json: f.jsonName, local: f.localName, presence: f.presence, packed: f.packed, oneof: f.oneof?.name, message: f.message?.typeName, enum: f.enum?.typeName,",
    "  dflt: String(f.getDefaultValue?.()), delimited: f.delimitedEncoding, longAsString: f.longAsString, deprecated: f.deprecated, options: opt(f.proto.options) });",
    "const message = (d) => ({ name: d.typeName, fields: d.fields.map(field), oneofs: d.oneofs.map((o) => [o.name, o.fields.map((f) => f.name)]),",
    "  nested: d.nestedMessages.map(message), enums: d.nestedEnums.map(enumOf), deprecated: d.deprecated, options: opt(d.proto.options) });",
    "const enumOf = (e) => ({ name: e.typeName, open: e.open, values: e.values.map((v) => [v.name, v.number, v.localName]), prefix: e.sharedPrefix });",
    "const out = [...files.values()].sort((a, b) => a.name.localeCompare(b.name)).map((f) => ({ name: f.name, edition: f.edition,",
    "  deps: f.dependencies.map((d) => d.name), messages: f.messages.map(message), enums: f.enums.map(enumOf),",
    "  services: f.services.map((s) => ({ name: s.typeName, methods: s.methods.map((m) => [m.name, m.methodKind, m.input.typeName, m.output.typeName, m.idempotency]) })),",
    "  extensions: f.extensions.map((x) => [x.typeName, x.number]), options: opt(f.proto.options) }));",
    "console.log(JSON.stringify(out));",
  ]);
  const bundle = b.text;
  expect(bundle).not.toContain('"google/protobuf/descriptor.proto"');
  expect(bundle).toContain("decodeFileDescriptorProto");

  const fromSource = await runJson<Array<{ name: string; messages: unknown[] }>>(b.entry);
  const fromBundle = await runJson<Array<{ name: string; messages: unknown[] }>>(b.bundled);
  expect(fromBundle).toEqual(fromSource);
  // the comparison is of the whole graph: the agent's files and the well-known types they import
  const names = fromSource.map((f) => f.name);
  expect(names).toContain("resource/v1/resource");
  expect(names).toContain("google/protobuf/any");
  expect(names).toContain("google/protobuf/timestamp");
  expect(fromSource.reduce((n, f) => n + f.messages.length, 0)).toBeGreaterThan(50);
});
