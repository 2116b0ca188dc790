// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The containers the container_* series are served for: cgroup-discovery.ts's walk, plus on cgroup v1 the
// containers one level under a top-level directory it does not walk (containerd's plain `ctr run` puts a
// container at /<namespace>/<id>, e.g. /default/<id> or /k8s.io/<id>), cri-o's container cgroup rather than its
// conmon's, sorted by cgroup path.

import type { HostIo } from "../io.ts";
import { detectRuntime, extractContainerId } from "../parsers/cgroup.ts";
import { type CgroupContainer, detectCgroupVersion, discoverContainers } from "./cgroup-discovery.ts";

/** Top-level v1 directories cgroup-discovery.ts already walks or deliberately leaves out. */
const WALKED = new Set([
  "docker",
  "containerd",
  "system.slice",
  "crio",
  "machine.slice",
  "kubepods",
  "kubepods.slice",
  "init.scope",
  "user.slice",
]);
/** Top-level v1 directories looked into (bounds the extra listing per cycle). */
const MAX_EXTRA_PARENTS = 64;

export interface DiscoveredContainers {
  version: 1 | 2;
  /** The cgroup root (<sys>/fs/cgroup). */
  root: string;
  containers: CgroupContainer[];
}

/** Containers under <sys>/fs/cgroup (for v1, paths under the cpu hierarchy), sorted by relPath. */
export async function discoverServedContainers(io: HostIo, sys: string, signal: AbortSignal): Promise<DiscoveredContainers> {
  const root = `${sys}/fs/cgroup`;
  const version = await detectCgroupVersion(io, root, signal);
  const containers = await discoverContainers(io, root, version, "cpu", signal);
  if (version === 1) {
    const seen = new Set(containers.map((c) => c.id));
    const base = `${root}/cpu`;
    const parents = (await io.listOptional(base, signal))
      .filter((e) => e.isDirectory() && !WALKED.has(e.name) && extractContainerId(e.name) === "")
      .slice(0, MAX_EXTRA_PARENTS);
    const lists = await Promise.all(parents.map((p) => io.listOptional(`${base}/${p.name}`, signal)));
    parents.forEach((p, i) => {
      for (const e of lists[i]!) {
        if (!e.isDirectory()) continue;
        const rel = `${p.name}/${e.name}`;
        const id = extractContainerId(e.name);
        if (!id || seen.has(id)) continue;
        seen.add(id);
        containers.push({ id, runtime: detectRuntime(rel), path: `${base}/${rel}`, relPath: rel });
      }
    });
  }
  // cri-o puts its monitor (conmon) in crio-conmon-<id>.scope beside crio-<id>.scope: the walk keeps whichever it meets first.
  await Promise.all(
    containers.map(async (c, i) => {
      const m = /(^|\/)crio-conmon-([0-9a-fA-F]+)\.scope$/.exec(c.relPath);
      if (!m) return;
      const relPath = c.relPath.slice(0, c.relPath.length - m[0].length + m[1]!.length) + `crio-${m[2]}.scope`;
      const path = c.path.slice(0, c.path.length - c.relPath.length) + relPath;
      if (await io.isDir(path, signal)) containers[i] = { ...c, path, relPath };
    }),
  );
  containers.sort((a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0));
  return { version, root, containers };
}
