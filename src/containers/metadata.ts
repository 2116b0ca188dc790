// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Container metadata from each runtime's own state on the host, read-only: docker's config.v2.json,
// containerd's OCI bundle config.json (per namespace), cri-o's and podman's userdata/config.json with
// containers/storage's containers.json. Pure parsers plus one reader per runtime through HostIo.

import type { HostIo } from "../perf/io.ts";
import { errCode } from "../perf/io.ts";
import { ContainerRuntime } from "../proto/gen/antimetal/runtime/v1/container_pb.ts";

export interface RuntimeMetadata {
  /** The image reference as the runtime recorded it ("docker.io/library/nginx:1.21"); "" when unknown. */
  image: string;
  labels: Record<string, string>;
  /** Epoch ms; 0 when unknown. */
  createdMs: number;
  startedMs: number;
  /** The OCI runtime spec's linux.cgroupsPath (containerd's bundle), for finding a container's cgroup. */
  cgroupsPath?: string;
}

/** Where each runtime keeps its state, relative to the host's root. */
export const CONTAINERD_TASK_DIR = "run/containerd/io.containerd.runtime.v2.task";
export const DOCKER_CONTAINERS_DIR = "var/lib/docker/containers";
export const STORAGE_DIRS = ["var/lib/containers/storage/overlay-containers", "var/lib/containers/storage/vfs-containers"];
/** containerd namespaces tried for a container found in the cgroup tree: CRI's, ctr's default, docker's. */
export const CONTAINERD_NAMESPACES = ["k8s.io", "default", "moby"];

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string => (typeof v === "string" ? v : "");
function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v))) if (typeof x === "string") out[k] = x;
  return out;
}
/** RFC 3339 -> epoch ms; 0 for docker's zero time "0001-01-01T00:00:00Z" or anything unparsable. */
function timeMs(v: unknown): number {
  const ms = Date.parse(str(v));
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/** docker's /var/lib/docker/containers/<id>/config.v2.json. */
export function parseDockerConfig(text: string): RuntimeMetadata {
  const j = obj(JSON.parse(text));
  const config = obj(j.Config);
  return {
    image: str(config.Image),
    labels: strMap(config.Labels),
    createdMs: timeMs(j.Created),
    startedMs: timeMs(obj(j.State).StartedAt),
  };
}

/**
 * An OCI runtime spec (containerd's bundle config.json, cri-o's and podman's userdata/config.json):
 * annotations are the labels; the image from CRI's (containerd) or cri-o's annotation; cri-o's labels
 * and created time from its annotations.
 */
export function parseOciConfig(text: string): RuntimeMetadata {
  const j = obj(JSON.parse(text));
  const annotations = strMap(j.annotations);
  let labels = annotations;
  const crioLabels = annotations["io.kubernetes.cri-o.Labels"];
  if (crioLabels) {
    try {
      labels = { ...strMap(JSON.parse(crioLabels)), ...annotations };
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e; // a malformed label annotation: keep the annotations alone
    }
  }
  const cgroupsPath = str(obj(j.linux).cgroupsPath);
  return {
    image: annotations["io.kubernetes.cri.image-name"] || annotations["io.kubernetes.cri-o.ImageName"] || "",
    labels,
    createdMs: timeMs(annotations["io.kubernetes.cri-o.Created"]),
    startedMs: 0,
    cgroupsPath: cgroupsPath || undefined,
  };
}

/** containers/storage's containers.json: id -> the image name its metadata records. */
export function parseStorageContainers(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const list = JSON.parse(text);
  if (!Array.isArray(list)) return out;
  for (const c of list) {
    const id = str(obj(c).id);
    let image = "";
    try {
      image = str(obj(JSON.parse(str(obj(c).metadata) || "{}"))["image-name"]);
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e; // metadata is not JSON for this entry: no image name
    }
    if (id) out.set(id, image);
  }
  return out;
}

export interface MetadataReader {
  /**
   * The runtime's metadata of container `id`; undefined when its state is not on this host (or not readable).
   * `ns`: the containerd namespace when known (a container found in containerd's task state).
   */
  read(
    id: string,
    runtime: ContainerRuntime,
    signal: AbortSignal,
    ns?: string,
  ): Promise<{ runtime: ContainerRuntime; meta: RuntimeMetadata } | undefined>;
}

const SOFT = new Set(["ENOENT", "ENOTDIR", "EACCES", "EPERM"]);

/**
 * Reads each runtime's state under `hostRoot` ("" or "/" for the agent's own root). For a container whose
 * runtime the cgroup path did not tell (UNKNOWN, e.g. kubepods/<qos>/pod<uid>/<id> under cgroupfs),
 * every runtime's state is tried and the one that has the container names the runtime.
 */
export function metadataReader(io: HostIo, hostRoot: string): MetadataReader {
  const root = hostRoot.replace(/\/+$/, "");
  const readJson = async <T>(path: string, parse: (t: string) => T, signal: AbortSignal): Promise<T | undefined> => {
    let text: string | undefined;
    try {
      text = await io.read(path, signal);
    } catch (e) {
      if (SOFT.has(errCode(e) ?? "")) return undefined;
      throw e;
    }
    try {
      return parse(text);
    } catch (e) {
      if (e instanceof SyntaxError) return undefined; // half-written by the runtime: the next scan reads it again
      throw e;
    }
  };
  const containerd = async (id: string, signal: AbortSignal, known?: string) => {
    for (const ns of known ? [known] : CONTAINERD_NAMESPACES) {
      const meta = await readJson(`${root}/${CONTAINERD_TASK_DIR}/${ns}/${id}/config.json`, parseOciConfig, signal);
      if (meta) return { meta, cri: ns === "k8s.io" || !!meta.labels["io.kubernetes.cri.container-type"] };
    }
    return undefined;
  };
  const storage = async (id: string, signal: AbortSignal) => {
    for (const dir of STORAGE_DIRS) {
      const meta = await readJson(`${root}/${dir}/${id}/userdata/config.json`, parseOciConfig, signal);
      if (!meta) continue;
      if (!meta.image) meta.image = (await readJson(`${root}/${dir}/containers.json`, parseStorageContainers, signal))?.get(id) ?? "";
      return meta;
    }
    return undefined;
  };
  const docker = (id: string, signal: AbortSignal) =>
    readJson(`${root}/${DOCKER_CONTAINERS_DIR}/${id}/config.v2.json`, parseDockerConfig, signal);

  return {
    async read(id, runtime, signal, ns) {
      switch (runtime) {
        case ContainerRuntime.DOCKER: {
          const meta = await docker(id, signal);
          return meta && { runtime, meta };
        }
        case ContainerRuntime.CONTAINERD:
        case ContainerRuntime.CRI_CONTAINERD: {
          const c = await containerd(id, signal, ns);
          return c && { runtime, meta: c.meta };
        }
        case ContainerRuntime.CRI_O:
        case ContainerRuntime.PODMAN: {
          const meta = await storage(id, signal);
          return meta && { runtime, meta };
        }
        default: {
          const c = await containerd(id, signal);
          if (c) return { runtime: c.cri ? ContainerRuntime.CRI_CONTAINERD : ContainerRuntime.CONTAINERD, meta: c.meta };
          const d = await docker(id, signal);
          if (d) return { runtime: ContainerRuntime.DOCKER, meta: d };
          const s = await storage(id, signal);
          if (s) return { runtime: s.labels["io.kubernetes.cri-o.ImageName"] ? ContainerRuntime.CRI_O : ContainerRuntime.PODMAN, meta: s };
          return undefined;
        }
      }
    },
  };
}
