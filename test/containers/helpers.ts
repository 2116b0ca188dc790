// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Shared by the runtime graph tests: fixture paths, a store in a temp dir, and the stored runtime
// graph rendered as readable, exact lines for golden files.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { create, createRegistry, toJson } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { refPath, resourceRefOf } from "../../src/graph/keys.ts";
import { silentLogger } from "../../src/log/logger.ts";
import type { HostPaths } from "../../src/perf/collector.ts";
import { file_antimetal_runtime_v1_container } from "../../src/proto/gen/antimetal/runtime/v1/container_pb.ts";
import { file_antimetal_runtime_v1_process } from "../../src/proto/gen/antimetal/runtime/v1/process_pb.ts";
import { file_antimetal_runtime_v1_relationships } from "../../src/proto/gen/antimetal/runtime/v1/relationships_pb.ts";
import { TypeDescriptorSchema } from "../../src/proto/gen/resource/v1/object_pb.ts";
import { openStore, type Store } from "../../src/store/index.ts";

export const FIXTURES = path.join(import.meta.dir, "..", "fixtures", "containers");
export { silentLogger };

export function pathsUnder(root: string): HostPaths {
  return { proc: `${root}/proc`, sys: `${root}/sys`, dev: `${root}/dev`, etc: `${root}/etc`, var: `${root}/var`, root: `${root}/root` };
}

/** A copy of fixture `name` in a temp dir (tests that change the tree). */
export function copyFixture(name: string): { root: string; paths: HostPaths; cleanup(): void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `rt-${name}-`));
  fs.cpSync(path.join(FIXTURES, name), root, { recursive: true });
  return { root, paths: pathsUnder(root), cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

export function tempStore(): { store: Store; dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rt-store-"));
  const store = openStore({ dataDirectory: dir, logger: silentLogger });
  return {
    store,
    dir,
    cleanup: () => {
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const registry = createRegistry(
  file_antimetal_runtime_v1_container,
  file_antimetal_runtime_v1_process,
  file_antimetal_runtime_v1_relationships,
);

/** The stored runtime graph: resources as {key, provider, spec} (proto3 JSON) and relationships as "subject -Predicate{json}-> object" lines, sorted. */
export function renderStored(store: Store): { resources: unknown[]; relationships: string[] } {
  const resources = store
    .listResources([create(TypeDescriptorSchema, { type: "antimetal.runtime.v1" })])
    .map((r) => {
      const desc = registry.getMessage(r.type!.type)!;
      return {
        key: refPath(resourceRefOf(r)),
        provider: r.metadata?.provider,
        spec: toJson(desc, anyUnpack(r.spec!, desc)!, { registry }),
      };
    })
    .sort((a, b) => (a.key < b.key ? -1 : 1));
  const relationships = ["antimetal.runtime.v1.Contains", "antimetal.runtime.v1.ContainedBy"]
    .flatMap((p) => store.findRelationships({ predicate: p }))
    .map((r) => {
      const desc = registry.getMessage(r.type!.type)!;
      const pred = JSON.stringify(toJson(desc, anyUnpack(r.predicate!, desc)!, { registry }));
      return `${refPath(r.subject)} -${r.type!.type.split(".").pop()}${pred}-> ${refPath(r.object)}`;
    })
    .sort();
  return { resources, relationships };
}

/** Polls `fn` every 20 ms until it returns something truthy; throws naming `what` after `timeoutMs`. */
export async function until<T>(what: string, fn: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await Bun.sleep(20);
  }
}
