// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Generates TypeScript decoders from the eBPF event headers (ebpf/include/*_types.h):
 * every `#define NAME <integer expression>` becomes a constant, every `struct NAME { ... }` a
 * layout table (offset, size, type per field, C alignment rules, little-endian) plus a decoder
 * over a DataView. Output: src/ebpf/gen/<header>.ts.
 *
 *   bun scripts/gen-ebpf-types.ts           write the files
 *   bun scripts/gen-ebpf-types.ts --check   exit 1 if a checked-in file differs (CI)
 */

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const INCLUDE = join(ROOT, "ebpf", "include");
const OUT = join(ROOT, "src", "ebpf", "gen");
const HEADER = readFileSync(join(ROOT, "scripts", "license-header.txt"), "utf8").trimEnd();

type Scalar = { kind: "int"; size: 1 | 2 | 4 | 8; signed: boolean } | { kind: "char" };
interface Field {
  name: string;
  scalar: Scalar;
  /** Array length, or undefined for a scalar. */
  count?: number;
  offset: number;
  size: number;
  align: number;
}
interface Struct {
  name: string;
  fields: Field[];
  size: number;
  align: number;
}

const SCALARS: Record<string, Scalar> = {
  __u8: { kind: "int", size: 1, signed: false },
  __s8: { kind: "int", size: 1, signed: true },
  __u16: { kind: "int", size: 2, signed: false },
  __s16: { kind: "int", size: 2, signed: true },
  __u32: { kind: "int", size: 4, signed: false },
  __s32: { kind: "int", size: 4, signed: true },
  int: { kind: "int", size: 4, signed: true },
  "unsigned int": { kind: "int", size: 4, signed: false },
  pid_t: { kind: "int", size: 4, signed: true },
  __u64: { kind: "int", size: 8, signed: false },
  __s64: { kind: "int", size: 8, signed: true },
  char: { kind: "char" },
};

export function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, " ");
}

/** Evaluates an integer #define body that uses + - * / << >> ( ) and earlier defines. */
function evalDefine(expr: string, defines: Map<string, number>): number | undefined {
  const substituted = expr.replace(/[A-Za-z_]\w*/g, (id) => (defines.has(id) ? String(defines.get(id)) : `@${id}`));
  if (substituted.includes("@") || !/^[\d\s+\-*/()<>xXa-fA-FuUlL]+$/.test(substituted)) return undefined;
  const cleaned = substituted.replace(/(\d)[uUlL]+/g, "$1");
  const value = Function(`"use strict"; return (${cleaned});`)() as unknown;
  return typeof value === "number" && Number.isInteger(value) ? value : undefined;
}

export function parseHeader(src: string): { defines: Map<string, number>; structs: Struct[] } {
  const text = stripComments(src);
  const defines = new Map<string, number>();
  for (const m of text.matchAll(/^[ \t]*#define[ \t]+([A-Za-z_]\w*)[ \t]+(.+)$/gm)) {
    const v = evalDefine(m[2]!.trim(), defines);
    if (v !== undefined) defines.set(m[1]!, v);
  }
  const structs: Struct[] = [];
  for (const m of text.matchAll(/struct\s+([A-Za-z_]\w*)\s*\{([^}]*)\}\s*;/g)) {
    const fields: Field[] = [];
    let offset = 0;
    let structAlign = 1;
    for (const decl of m[2]!
      .split(";")
      .map((d) => d.trim().replace(/\s+/g, " "))
      .filter(Boolean)) {
      const fm = /^(.+?)\s+([A-Za-z_]\w*)(?:\s*\[\s*([^\]]+)\s*\])?$/.exec(decl);
      if (!fm) throw new Error(`struct ${m[1]}: cannot parse field declaration "${decl}"`);
      const scalar = SCALARS[fm[1]!];
      if (!scalar) throw new Error(`struct ${m[1]}: unsupported field type "${fm[1]}"`);
      const elemSize = scalar.kind === "char" ? 1 : scalar.size;
      let count: number | undefined;
      if (fm[3] !== undefined) {
        count = evalDefine(fm[3], defines);
        if (count === undefined || count <= 0) throw new Error(`struct ${m[1]}: bad array length "${fm[3]}"`);
      }
      const align = elemSize;
      offset = Math.ceil(offset / align) * align;
      const size = elemSize * (count ?? 1);
      fields.push({ name: fm[2]!, scalar, count, offset, size, align });
      offset += size;
      structAlign = Math.max(structAlign, align);
    }
    structs.push({ name: m[1]!, fields, size: Math.ceil(offset / structAlign) * structAlign, align: structAlign });
  }
  return { defines, structs };
}

function camel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
function pascal(s: string): string {
  const c = camel(s);
  return c[0]!.toUpperCase() + c.slice(1);
}

function tsType(f: Field): string {
  if (f.scalar.kind === "char") return f.count ? "string" : "number";
  if (f.count && f.scalar.size === 1 && !f.scalar.signed) return "Uint8Array";
  if (f.count) throw new Error(`arrays of integers other than __u8 are not supported (${f.name})`);
  return f.scalar.size === 8 ? "bigint" : "number";
}

function readExpr(f: Field): string {
  const at = `off + ${f.offset}`;
  if (f.scalar.kind === "char") return f.count ? `cString(view, ${at}, ${f.count})` : `view.getInt8(${at})`;
  if (f.count) return `bytesAt(view, ${at}, ${f.count})`;
  const { size, signed } = f.scalar;
  switch (size) {
    case 1:
      return signed ? `view.getInt8(${at})` : `view.getUint8(${at})`;
    case 2:
      return signed ? `view.getInt16(${at}, true)` : `view.getUint16(${at}, true)`;
    case 4:
      return signed ? `view.getInt32(${at}, true)` : `view.getUint32(${at}, true)`;
    case 8:
      return signed ? `view.getBigInt64(${at}, true)` : `view.getBigUint64(${at}, true)`;
  }
}

function writeExpr(f: Field, v: string): string {
  const at = `off + ${f.offset}`;
  if (f.scalar.kind === "char") return f.count ? `putCString(view, ${at}, ${f.count}, ${v})` : `view.setInt8(${at}, ${v})`;
  if (f.count) return `putBytes(view, ${at}, ${f.count}, ${v})`;
  const { size, signed } = f.scalar;
  const bits = size * 8;
  const method = size === 8 ? (signed ? "setBigInt64" : "setBigUint64") : `set${signed ? "Int" : "Uint"}${bits}`;
  return `view.${method}(${at}, ${v}${size === 1 ? "" : ", true"})`;
}

export function generate(file: string, src: string): string {
  const { defines, structs } = parseHeader(src);
  const lines: string[] = [HEADER, "", `// Code generated by scripts/gen-ebpf-types.ts from ebpf/include/${file}. DO NOT EDIT.`, ""];
  for (const [k, v] of defines) if (!k.startsWith("__")) lines.push(`export const ${k} = ${v};`);
  lines.push("");
  lines.push(
    'const utf8 = new TextDecoder("utf-8", { fatal: false });',
    "",
    "/** Bytes as a UTF-8 string (TextDecoder is the fastest path in Bun for short strings too). */",
    "export function bytesToString(bytes: Uint8Array): string {",
    "  return utf8.decode(bytes);",
    "}",
    "",
    "/** A NUL-terminated char[len] field as a string (bytes after the first NUL are ignored). */",
    "export function cString(view: DataView, offset: number, len: number): string {",
    "  const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, len);",
    "  const end = bytes.indexOf(0);",
    "  return bytesToString(end < 0 ? bytes : bytes.subarray(0, end));",
    "}",
    "",
    "/** Writes `s` into a char[len] field, truncated to len-1 bytes and NUL-padded. */",
    "export function putCString(view: DataView, offset: number, len: number, s: string): void {",
    "  const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, len);",
    "  bytes.fill(0);",
    "  bytes.set(new TextEncoder().encode(s).subarray(0, len - 1));",
    "}",
    "",
  );
  if (structs.some((s) => s.fields.some((f) => f.scalar.kind === "int" && f.count))) {
    lines.push(
      "/** A __u8[len] field, copied (the record's buffer is reused). */",
      "export function bytesAt(view: DataView, offset: number, len: number): Uint8Array {",
      "  return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + len));",
      "}",
      "",
      "/** Writes `b` into a __u8[len] field, zero-padded. */",
      "export function putBytes(view: DataView, offset: number, len: number, b: Uint8Array): void {",
      "  const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, len);",
      "  bytes.fill(0);",
      "  bytes.set(b.subarray(0, len));",
      "}",
      "",
    );
  }
  for (const s of structs) {
    const P = pascal(s.name);
    const U = s.name.toUpperCase();
    lines.push(`/** struct ${s.name}: ${s.size} bytes, align ${s.align}, little-endian. */`);
    lines.push(`export interface ${P} {`);
    for (const f of s.fields) lines.push(`  ${camel(f.name)}: ${tsType(f)};`);
    lines.push("}", "");
    lines.push(`export const ${U}_SIZE = ${s.size};`);
    lines.push(`export const ${U}_LAYOUT = {`);
    for (const f of s.fields) {
      const type =
        f.scalar.kind === "char"
          ? f.count
            ? `char[${f.count}]`
            : "char"
          : `${f.scalar.signed ? "s" : "u"}${f.scalar.size * 8}${f.count ? `[${f.count}]` : ""}`;
      lines.push(`  ${f.name}: { offset: ${f.offset}, size: ${f.size}, type: "${type}" },`);
    }
    lines.push("} as const;", "");
    lines.push(`/** Decodes struct ${s.name} at \`off\`; the caller checks that ${s.size} bytes are there. */`);
    lines.push(`export function decode${P}(view: DataView, off = 0): ${P} {`);
    lines.push("  return {");
    for (const f of s.fields) lines.push(`    ${camel(f.name)}: ${readExpr(f)},`);
    lines.push("  };", "}", "");
    lines.push(`/** Encodes struct ${s.name} at \`off\` (tests and benchmarks build records with it). */`);
    lines.push(`export function encode${P}(view: DataView, v: ${P}, off = 0): void {`);
    for (const f of s.fields) lines.push(`  ${writeExpr(f, `v.${camel(f.name)}`)};`);
    lines.push("}", "");
  }
  return lines.join("\n");
}

function main(): void {
  const check = process.argv.includes("--check");
  const headers = readdirSync(INCLUDE)
    .filter((f) => f.endsWith("_types.h"))
    .sort();
  if (headers.length === 0) throw new Error(`no *_types.h under ${INCLUDE}`);
  let stale = 0;
  mkdirSync(OUT, { recursive: true });
  for (const h of headers) {
    const out = join(OUT, basename(h, ".h") + ".ts");
    const text = generate(h, readFileSync(join(INCLUDE, h), "utf8"));
    if (check) {
      const current = existsSync(out) ? readFileSync(out, "utf8") : "";
      if (current !== text) {
        console.error(`gen-ebpf-types: ${out} is out of date; run: bun scripts/gen-ebpf-types.ts`);
        stale++;
      }
    } else {
      writeFileSync(out, text);
      console.log(`gen-ebpf-types: wrote ${out}`);
    }
  }
  if (stale > 0) process.exit(1);
  if (check) console.log(`gen-ebpf-types: ${headers.length} generated file(s) up to date`);
}

if (import.meta.main) main();
