// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Helpers for the host graph tests: the fixture directory, HostPaths under a root, and private copies
// of fixture trees for tests that change them.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { HostPaths } from "../../src/perf/collector.ts";

export const FIXTURES = path.join(import.meta.dir, "..", "fixtures", "hostgraph");

export function pathsUnder(root: string): HostPaths {
  return { proc: `${root}/proc`, sys: `${root}/sys`, dev: `${root}/dev`, etc: `${root}/etc`, var: `${root}/var` };
}

/** A private copy of a fixture tree (relative symlinks kept), for tests that change it. */
export function copyFixture(name: string): { root: string; paths: HostPaths; cleanup(): void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `hostgraph-${name}-`));
  fs.cpSync(path.join(FIXTURES, name), root, { recursive: true, verbatimSymlinks: true });
  return { root, paths: pathsUnder(root), cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}
