// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// cgroup version detection and container discovery over the cgroup tree (the original's rules, bounded
// in depth and directory count, plus cri-o's container cgroup rather than its conmon's, and on request
// containerd's plain `ctr run` containers at /<namespace>/<id> on cgroup v1), shared by the cgroup
// collectors, the container_* series and the runtime graph.

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
/** v1 parents the walk goes into (recursively) and top-level directories it leaves out. */
const V1_PARENTS = ["docker", "containerd", "system.slice", "crio", "machine.slice", "kubepods", "kubepods.slice"];
const V1_SKIPPED = ["init.scope", "system.slice", "user.slice"];
/** Top-level v1 directories looked into for /<namespace>/<id> containers (bounds the extra listing per cycle). */
const MAX_NAMESPACE_PARENTS = 64;

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
 * cri-o puts its monitor in crio-conmon-<id>.scope beside the container's crio-<id>.scope: when both
 * exist the container's is the one returned (the walk meets them in either order).
 * `syncList`: list directories in place (HostIo.listKernfsSync) instead of on the reader threads, for
 * callers that walk often (the runtime graph); the cgroup mount is kernfs.
 * `namespaceChildren` (v1): also the containers one level under a top-level directory the walk does not
 * go into (containerd's plain `ctr run` puts a container at /<namespace>/<id>, e.g. /default/<id> or
 * /k8s.io/<id>; at most 64 such directories), after everything else is found. The original does not
 * find them; the runtime graph finds them through containerd's task state, with their namespace.
 */
export async function discoverContainers(
  io: HostIo,
  root: string,
  version: 1 | 2,
  subsystem: string,
  signal: AbortSignal,
  opts: { syncList?: boolean; namespaceChildren?: boolean } = {},
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
    return preferCrioContainers(io, [...found.values()], signal);
  }
  const base = `${root}/${subsystem}`;
  const take = (abs: string, rel: string): boolean => {
    const id = extractContainerId(rel);
    if (!id) return false;
    if (!found.has(id)) found.set(id, { id, runtime: detectRuntime(rel), path: abs, relPath: rel });
    return true;
  };
  await Promise.all(V1_PARENTS.map((parent) => walk(io, `${base}/${parent}`, parent, 1, signal, (abs, rel) => take(abs, rel), budget)));
  const namespaces: string[] = [];
  for (const e of opts.syncList ? io.listKernfsSync(base) : await io.listOptional(base, signal)) {
    if (!e.isDirectory() || V1_SKIPPED.includes(e.name)) continue;
    if (!take(`${base}/${e.name}`, e.name) && !V1_PARENTS.includes(e.name) && namespaces.length < MAX_NAMESPACE_PARENTS)
      namespaces.push(e.name);
  }
  if (opts.namespaceChildren) {
    const lists = await Promise.all(namespaces.map((ns) => io.listOptional(`${base}/${ns}`, signal)));
    namespaces.forEach((ns, i) => {
      for (const e of lists[i]!) {
        if (!e.isDirectory()) continue;
        const rel = `${ns}/${e.name}`;
        const id = extractContainerId(e.name);
        if (id && !found.has(id)) found.set(id, { id, runtime: detectRuntime(rel), path: `${base}/${rel}`, relPath: rel });
      }
    });
  }
  return preferCrioContainers(io, [...found.values()], signal);
}

/** Replaces a cri-o conmon scope (crio-conmon-<id>.scope) by the container's crio-<id>.scope beside it, when that exists. */
async function preferCrioContainers(io: HostIo, containers: CgroupContainer[], signal: AbortSignal): Promise<CgroupContainer[]> {
  await Promise.all(
    containers.map(async (c, i) => {
      const m = CRIO_CONMON.exec(c.relPath);
      if (!m) return;
      const relPath = `${c.relPath.slice(0, c.relPath.length - m[0].length + m[1]!.length)}crio-${m[2]}.scope`;
      const path = c.path.slice(0, c.path.length - c.relPath.length) + relPath;
      if (await io.isDir(path, signal)) containers[i] = { ...c, path, relPath };
    }),
  );
  return containers;
}

const CRIO_CONMON = /(^|\/)crio-conmon-([0-9a-fA-F]+)\.scope$/;

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
