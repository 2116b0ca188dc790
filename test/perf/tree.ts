// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Helpers for the perf tests: fixture procfs/sysfs trees materialised in temp dirs, sample files, and a
// per-collection timeout signal.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { HostPaths } from "../../src/perf/collector.ts";

export type Node = string | { symlink: string } | { dir: true };

const made: string[] = [];

/** Materialises a fixture tree in a fresh temp dir: keys are relative paths, values file contents. */
export function makeTree(files: Record<string, Node>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "perf-fixture-"));
  made.push(root);
  for (const [rel, node] of Object.entries(files)) {
    const p = path.join(root, rel);
    if (typeof node === "object" && "dir" in node) {
      fs.mkdirSync(p, { recursive: true });
      continue;
    }
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof node === "object") fs.symlinkSync(node.symlink, p);
    else fs.writeFileSync(p, node);
  }
  return root;
}

export function pathsFor(root: string): HostPaths {
  return { proc: `${root}/proc`, sys: `${root}/sys`, dev: `${root}/dev`, etc: `${root}/etc`, var: `${root}/var` };
}

export function sample(name: string): string {
  return fs.readFileSync(new URL(`../fixtures/perf/samples/${name}`, import.meta.url), "utf8");
}

export function cleanupTrees(): void {
  for (const r of made.splice(0)) fs.rmSync(r, { recursive: true, force: true });
}

export const sig = () => AbortSignal.timeout(5000);
