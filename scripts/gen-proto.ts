// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Generates src/proto/gen from proto/ with buf + protoc-gen-es. `--check` fails when the
// checked-in output differs from a fresh generation (CI runs it).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";

const root = join(import.meta.dir, "..");
const check = process.argv.includes("--check");
const out = check ? mkdtempSync(join(tmpdir(), "proto-gen-")) : join(root, "src/proto/gen");

if (!check) rmSync(out, { recursive: true, force: true });
await $`${join(root, "node_modules/.bin/buf")} generate --output ${check ? out : root} --template ${join(root, "buf.gen.yaml")}`
  .cwd(root)
  .quiet();

if (check) {
  const diff = await $`diff -r ${join(out, "src/proto/gen")} ${join(root, "src/proto/gen")}`.nothrow().quiet();
  rmSync(out, { recursive: true, force: true });
  if (diff.exitCode !== 0) {
    console.error("src/proto/gen is out of date; run: bun scripts/gen-proto.ts\n" + diff.stdout.toString());
    process.exit(1);
  }
  console.log("src/proto/gen is up to date");
}
