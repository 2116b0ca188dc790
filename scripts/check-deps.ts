// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Dependency check: every package the repository's code imports (src, test, bench, scripts, ffi,
// deploy: static, dynamic, type-only and require) is declared in package.json, and every declared
// package is imported or used as a tool (its command appears in a script or config file, or a
// @types package whose types tsconfig loads). Prints the differences and exits 1 if there are any.
// Usage: bun scripts/check-deps.ts

import { existsSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";

import { $ } from "bun";

const root = join(import.meta.dir, "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};
const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})]);

const SOURCE_DIRS = ["src", "test", "bench", "scripts", "ffi", "deploy"];
/** Where a tool package's command may appear. */
const TOOL_FILES = ["scripts", ".ci", "Makefile", "buf.gen.yaml", "bunfig.toml", "package.json", "deploy"];

const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
const IMPORT_PATTERNS = [
  /\bimport\s+(?:type\s+)?(?:[\w*{}\s,$]+\s+from\s+)?["']([^"'\n]+)["']/g,
  /\bexport\s+(?:type\s+)?[\w*{}\s,$]+\s+from\s+["']([^"'\n]+)["']/g,
  /\bimport\(\s*["']([^"'\n]+)["']\s*\)/g,
  /\brequire\(\s*["']([^"'\n]+)["']\s*\)/g,
];

/** The package a bare specifier names (`@scope/name/deep/path` → `@scope/name`), or undefined for relative, builtin and bun: specifiers. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("bun:") || specifier === "bun") return undefined;
  if (builtins.has(specifier) || builtins.has(specifier.split("/")[0]!)) return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

const listed = (await $`git -C ${root} ls-files -- ${SOURCE_DIRS}`.quiet()).stdout.toString().split("\n");
const files = listed.filter((f) => /\.(ts|mts|cts|js|mjs|cjs)$/.test(f) && existsSync(join(root, f)));
const importedBy = new Map<string, string>();
for (const file of files) {
  const text = readFileSync(join(root, file), "utf8");
  for (const re of IMPORT_PATTERNS) {
    for (const m of text.matchAll(re)) {
      const name = packageOf(m[1]!);
      if (name && !importedBy.has(name)) importedBy.set(name, file);
    }
  }
}

const toolListing = (await $`git -C ${root} ls-files -- ${TOOL_FILES}`.quiet()).stdout.toString().split("\n").filter(Boolean);
const toolText = toolListing.map((f) => (existsSync(join(root, f)) ? readFileSync(join(root, f), "utf8") : "")).join("\n");
const tsconfigTypes: string[] = (JSON.parse(readFileSync(join(root, "tsconfig.json"), "utf8")).compilerOptions?.types ?? []) as string[];

function usedAsTool(name: string): boolean {
  if (name.startsWith("@types/"))
    return tsconfigTypes.includes(name.slice("@types/".length)) || importedBy.has(name.slice("@types/".length));
  const manifest = join(root, "node_modules", name, "package.json");
  if (!existsSync(manifest)) return false;
  const bin = (JSON.parse(readFileSync(manifest, "utf8")) as { bin?: string | Record<string, string> }).bin;
  const commands = typeof bin === "string" ? [name.split("/").pop()!] : Object.keys(bin ?? {});
  return commands.some((c) => new RegExp(`(^|[\\s/"'\`(])${c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([\\s"'\`)]|$)`, "m").test(toolText));
}

const missing = [...importedBy].filter(([name]) => !declared.has(name)).map(([name, file]) => `${name} (imported by ${file})`);
const unused = [...declared].filter((name) => !importedBy.has(name) && !usedAsTool(name));

if (missing.length === 0 && unused.length === 0) {
  console.log(`dependencies ok (${declared.size} declared, ${importedBy.size} imported, ${files.length} files checked)`);
  process.exit(0);
}
for (const m of missing) console.error(`imported but not declared in package.json: ${m}`);
for (const u of unused) console.error(`declared in package.json but neither imported nor used as a tool: ${u}`);
process.exit(1);
