// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Checks that every source file starts with the project's license header:
//   .ts .js .mjs .proto .c/.h outside ebpf/  -> scripts/license-header.txt (PolyForm Shield)
//   ebpf/**/*.c, ebpf/**/*.h                 -> "// SPDX-License-Identifier: GPL-2.0-only"
//   .sh, Makefile, .ci/run                   -> the PolyForm header as "#" comments (after a shebang)
// TypeScript and JavaScript files (outside generated code) also need a purpose comment right after
// the header and one blank line: a `//` or `/*` block saying what the file is for.
// Usage: bun scripts/license-check.ts [--fix]. Lists offenders and exits 1.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";

const root = join(import.meta.dir, "..");
const slashHeader = readFileSync(join(root, "scripts/license-header.txt"), "utf8");
const hashHeader = slashHeader.replace(/^\/\//gm, "#");
const GPL = "// SPDX-License-Identifier: GPL-2.0-only\n";
const SKIP = [/^node_modules\//, /^dist\//, /^test\/fixtures\//, /\/fixtures\//, /^ebpf\/include\/vmlinux\.h$/, /^ebpf\/build\//];

type Rule = { header: string; afterShebang: boolean };

function ruleFor(path: string): Rule | undefined {
  if (SKIP.some((re) => re.test(path))) return undefined;
  if (/^ebpf\/.*\.(c|h)$/.test(path)) return { header: GPL, afterShebang: false };
  if (/\.(ts|js|mjs|cjs|proto|c|h)$/.test(path)) return { header: slashHeader, afterShebang: true };
  if (/\.sh$/.test(path) || path === "Makefile" || path === ".ci/run") return { header: hashHeader, afterShebang: true };
  return undefined;
}

const GENERATED = [/^src\/proto\/gen\//, /^src\/ebpf\/gen\//];

/** A `//` or `/*` comment after the header and one blank line, before any code. */
function hasPurpose(path: string, text: string, rule: Rule): boolean {
  if (!/\.(ts|js|mjs|cjs)$/.test(path) || GENERATED.some((re) => re.test(path))) return true;
  const body = rule.afterShebang && text.startsWith("#!") ? text.slice(text.indexOf("\n") + 1) : text;
  const rest = body.slice(rule.header.length);
  return rest.startsWith("\n//") || rest.startsWith("\n/*");
}

function hasHeader(text: string, rule: Rule): boolean {
  const body = rule.afterShebang && text.startsWith("#!") ? text.slice(text.indexOf("\n") + 1) : text;
  return body.startsWith(rule.header);
}

const files = (await $`git -C ${root} ls-files --cached --others --exclude-standard`.quiet()).stdout.toString().split("\n").filter(Boolean);
const fix = process.argv.includes("--fix");
const bad: string[] = [];
const noPurpose: string[] = [];
for (const path of files) {
  const rule = ruleFor(path);
  if (!rule) continue;
  let text: string;
  try {
    text = readFileSync(join(root, path), "utf8");
  } catch {
    continue; // deleted in the work tree
  }
  if (hasHeader(text, rule)) {
    if (!hasPurpose(path, text, rule)) noPurpose.push(path);
    continue;
  }
  if (fix && !text.startsWith("#!")) {
    writeFileSync(join(root, path), rule.header + (rule.header === GPL ? "" : "\n") + text);
    continue;
  }
  bad.push(path);
}
if (bad.length > 0) console.error(`missing license header in ${bad.length} file(s):\n${bad.map((p) => `  ${p}`).join("\n")}`);
if (noPurpose.length > 0) {
  console.error(`missing purpose comment after the header in ${noPurpose.length} file(s):\n${noPurpose.map((p) => `  ${p}`).join("\n")}`);
}
if (bad.length > 0 || noPurpose.length > 0) process.exit(1);
console.log(`license headers ok (${files.length} files checked)`);
