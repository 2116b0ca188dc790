// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// cgroup version detection and container discovery over the cgroup tree (the original's rules, bounded
// in depth and directory count), shared by the cgroup collectors.

import type { HostIo } from "../io.ts";
import { detectRuntime, extractContainerId } from "../parsers/cgroup.ts";

export interface CgroupContainer {
  id: string;
  runtime: string;
  /** Absolute directory of the container's cgroup (for v1, under the subsystem's hierarchy). */
  path: string;
  /** Path relative to the hierarchy root. */
  relPath: string;
}

/** Bounds on the walk so a huge or looping cgroup tree cannot stall a cycle. */
const MAX_DEPTH = 8;
const MAX_DIRS = 20000;

/** "2" if <root>/cgroup.controllers exists, "1" if a v1 controller dir exists, else an error. */
export async function detectCgroupVersion(io: HostIo, root: string, signal: AbortSignal): Promise<1 | 2> {
  if (await io.exists(`${root}/cgroup.controllers`, signal)) return 2;
  for (const s of ["cpu", "memory", "cpuacct", "blkio", "devices"]) if (await io.isDir(`${root}/${s}`, signal)) return 1;
  throw new Error(`failed to detect cgroup version: unable to detect cgroup version at ${root}`);
}

async function walk(
  io: HostIo,
  dir: string,
  rel: string,
  depth: number,
  signal: AbortSignal,
  visit: (abs: string, rel: string, has: (name: string) => boolean) => boolean,
  budget: { n: number; sync?: boolean },
): Promise<void> {
  if (depth > MAX_DEPTH || budget.n++ > MAX_DIRS) return;
  // In place (kernfs), a directory is listed only when it is walked into: a container's own cgroup, which
  // holds dozens of files, is recognized by a stat of the one file the rule needs.
  const listed = budget.sync ? undefined : await io.listOptional(dir, signal);
  const has = listed ? (name: string) => listed.some((e) => e.name === name) : (name: string) => io.existsInMemorySync(`${dir}/${name}`);
  if (rel !== "" && visit(dir, rel, has)) return;
  const entries = listed ?? io.listKernfsSync(dir);
  await Promise.all(
    entries
      .filter((e) => e.isDirectory())
      .map((e) => walk(io, `${dir}/${e.name}`, rel ? `${rel}/${e.name}` : e.name, depth + 1, signal, visit, budget)),
  );
}

/**
 * Containers by the original's discovery. v1: under <root>/<subsystem>, the runtime parents docker,
 * containerd, system.slice, crio, machine.slice (plus kubepods and kubepods.slice, which the original
 * missed) recursively, and the direct children except init.scope, system.slice, user.slice. v2: the whole
 * tree; a directory with an id and a cgroup.procs file is a container (its subtree is not walked).
 * `syncList`: list directories in place (HostIo.listKernfsSync) instead of on the reader threads, for
 * callers that walk often (the runtime graph); the cgroup mount is kernfs.
 */
export async function discoverContainers(
  io: HostIo,
  root: string,
  version: 1 | 2,
  subsystem: string,
  signal: AbortSignal,
  opts: { syncList?: boolean } = {},
): Promise<CgroupContainer[]> {
  const found = new Map<string, CgroupContainer>();
  const budget = { n: 0, sync: opts.syncList };
  if (version === 2) {
    await walk(
      io,
      root,
      "",
      0,
      signal,
      (abs, rel, has) => {
        const id = extractContainerId(rel);
        if (id && has("cgroup.procs")) {
          if (!found.has(id)) found.set(id, { id, runtime: detectRuntime(rel), path: abs, relPath: rel });
          return true;
        }
        return false;
      },
      budget,
    );
    return [...found.values()];
  }
  const base = `${root}/${subsystem}`;
  const take = (abs: string, rel: string): boolean => {
    const id = extractContainerId(rel);
    if (!id) return false;
    if (!found.has(id)) found.set(id, { id, runtime: detectRuntime(rel), path: abs, relPath: rel });
    return true;
  };
  await Promise.all(
    ["docker", "containerd", "system.slice", "crio", "machine.slice", "kubepods", "kubepods.slice"].map((parent) =>
      walk(io, `${base}/${parent}`, parent, 1, signal, (abs, rel) => take(abs, rel), budget),
    ),
  );
  for (const e of opts.syncList ? io.listKernfsSync(base) : await io.listOptional(base, signal)) {
    if (!e.isDirectory() || ["init.scope", "system.slice", "user.slice"].includes(e.name)) continue;
    take(`${base}/${e.name}`, e.name);
  }
  return [...found.values()];
}

/**
 * One record per container of `subsystem` under <sys>/fs/cgroup: detects the version, discovers the
 * containers and reads each with `one` (in parallel); a container `one` returns undefined for is left out.
 */
export async function collectPerContainer<T>(
  io: HostIo,
  sys: string,
  subsystem: string,
  signal: AbortSignal,
  one: (c: CgroupContainer, version: 1 | 2) => Promise<T | undefined>,
): Promise<T[]> {
  const root = `${sys}/fs/cgroup`;
  const version = await detectCgroupVersion(io, root, signal);
  const containers = await discoverContainers(io, root, version, subsystem, signal);
  const results = await Promise.all(containers.map((c) => one(c, version)));
  return results.filter((x) => x !== undefined);
}
