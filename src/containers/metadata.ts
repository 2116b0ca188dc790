// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Container metadata from each runtime's own state on the host, read-only: docker's config.v2.json,
// containerd's OCI bundle config.json (per namespace), cri-o's and podman's userdata/config.json with
// containers/storage's containers.json. Pure parsers plus one reader per runtime through HostIo. The one
// reader of runtime state on the host: the runtime graph (discover.ts) and the container_metrics collector's
// cAdvisor labels (perf/collectors/container-labels.ts, through `cadvisorLabels`) both read through it.

import type { HostIo } from "../perf/io.ts";
import { errCode } from "../perf/io.ts";
import { ContainerRuntime } from "../proto/gen/antimetal/runtime/v1/container_pb.ts";

export interface RuntimeMetadata {
  /** The image reference as the runtime recorded it ("docker.io/library/nginx:1.21"); "" when unknown. */
  image: string;
  labels: Record<string, string>;
  /** The runtime's own name: docker's Name without its "/", cri-o's io.kubernetes.cri-o.Name; "" when none. */
  name: string;
  /** Epoch ms; 0 when unknown. */
  createdMs: number;
  startedMs: number;
  /** The OCI runtime spec's linux.cgroupsPath (containerd's bundle), for finding a container's cgroup. */
  cgroupsPath?: string;
}

/** Where each runtime keeps its state, relative to the host's root. */
export const CONTAINERD_TASK_DIR = "run/containerd/io.containerd.runtime.v2.task";
/** containerd's v1 (io.containerd.runtime.v1.linux) task state, tried after v2. */
const CONTAINERD_V1_TASK_DIR = "run/containerd/io.containerd.runtime.v1.linux";
export const DOCKER_CONTAINERS_DIR = "var/lib/docker/containers";
export const STORAGE_DIRS = [
  "var/lib/containers/storage/overlay-containers",
  "var/lib/containers/storage/vfs-containers",
  "run/containers/storage/overlay-containers", // cri-o with its state on tmpfs
];
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
/** RFC 3339 (Go prints up to nanoseconds) -> epoch ms; 0 for docker's zero time "0001-01-01T00:00:00Z" or anything unparsable. */
function timeMs(v: unknown): number {
  const ms = Date.parse(str(v).replace(/(\.\d{3})\d+/, "$1"));
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/** docker's /var/lib/docker/containers/<id>/config.v2.json. */
export function parseDockerConfig(text: string): RuntimeMetadata {
  const j = obj(JSON.parse(text));
  const config = obj(j.Config);
  return {
    image: str(config.Image),
    labels: strMap(config.Labels),
    name: str(j.Name).replace(/^\//, ""),
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
    name: annotations["io.kubernetes.cri-o.Name"] ?? "",
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
   * `dir`: the directory its state was read from (containerd's task bundle, with init.pid).
   */
  read(
    id: string,
    runtime: ContainerRuntime,
    signal: AbortSignal,
    ns?: string,
  ): Promise<{ runtime: ContainerRuntime; meta: RuntimeMetadata; dir: string } | undefined>;
}

export interface MetadataReaderOptions {
  /** A state file larger than this is not read (HostIo counts the refusal and it is reported as unreadable). */
  maxBytes?: number;
  /**
   * Told of each state file that exists but could not be read (EACCES, over maxBytes, ...), which then
   * counts as absent; without it only missing or forbidden files count as absent and other errors throw.
   */
  onUnreadable?: (path: string, err: unknown) => void;
  /** The containerd namespaces to try for a container whose namespace is not known; CONTAINERD_NAMESPACES by default. */
  namespaces?: (taskDir: string, signal: AbortSignal) => Promise<string[]>;
}

const SOFT = new Set(["ENOENT", "ENOTDIR", "EACCES", "EPERM"]);
const ABSENT = new Set(["ENOENT", "ENOTDIR"]);

/** The labels kubelet's cAdvisor puts on container_* series other than `id` ("" when the runtime does not say). */
export interface CadvisorLabels {
  container: string;
  pod: string;
  namespace: string;
  image: string;
  name: string;
}

/**
 * cAdvisor's labels from a container's runtime metadata. containerd's CRI plugin annotates
 * io.kubernetes.cri.{container-name, sandbox-name, sandbox-namespace, image-name} (a sandbox has no container
 * name); cri-o io.kubernetes.{container.name, pod.name, pod.namespace} with io.kubernetes.cri-o.{ImageName, Name};
 * docker (dockershim, cri-dockerd) the same io.kubernetes.* labels. `name` is cAdvisor's first alias: the
 * container id for containerd, cri-o's container name (k8s_...), docker's Name.
 */
export function cadvisorLabels(meta: RuntimeMetadata, runtime: ContainerRuntime, id: string): CadvisorLabels {
  const l = meta.labels;
  const crio = !!(l["io.kubernetes.cri-o.Name"] || l["io.kubernetes.cri-o.ImageName"]);
  if (crio || runtime === ContainerRuntime.DOCKER)
    return {
      container: l["io.kubernetes.container.name"] ?? "",
      pod: l["io.kubernetes.pod.name"] ?? "",
      namespace: l["io.kubernetes.pod.namespace"] ?? "",
      image: meta.image,
      name: meta.name,
    };
  return {
    container: l["io.kubernetes.cri.container-name"] ?? "",
    pod: l["io.kubernetes.cri.sandbox-name"] ?? "",
    namespace: l["io.kubernetes.cri.sandbox-namespace"] ?? "",
    image: l["io.kubernetes.cri.image-name"] ?? "",
    name: id,
  };
}

/**
 * Reads each runtime's state under `hostRoot` ("" or "/" for the agent's own root). For a container whose
 * runtime the cgroup path did not tell (UNKNOWN, e.g. kubepods/<qos>/pod<uid>/<id> under cgroupfs),
 * every runtime's state is tried and the one that has the container names the runtime.
 */
export function metadataReader(io: HostIo, hostRoot: string, opts: MetadataReaderOptions = {}): MetadataReader {
  const root = hostRoot.replace(/\/+$/, "");
  /** `inMemoryBase`: the state directory holding `path`; on tmpfs (containerd's /run) the file is read in place. */
  const readJson = async <T>(path: string, parse: (t: string) => T, signal: AbortSignal, inMemoryBase?: string): Promise<T | undefined> => {
    let text: string | undefined;
    try {
      text =
        inMemoryBase && io.isInMemoryFs(inMemoryBase)
          ? io.readInMemorySync(path, opts.maxBytes)
          : await io.read(path, signal, opts.maxBytes);
    } catch (e) {
      const code = errCode(e) ?? "";
      if (ABSENT.has(code)) return undefined;
      if (opts.onUnreadable && !signal.aborted && code !== "ESTUCK") {
        opts.onUnreadable(path, e);
        return undefined;
      }
      if (SOFT.has(code)) return undefined;
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
    for (const taskDir of [CONTAINERD_TASK_DIR, CONTAINERD_V1_TASK_DIR]) {
      const base = `${root}/${taskDir}`;
      for (const ns of known ? [known] : ((await opts.namespaces?.(base, signal)) ?? CONTAINERD_NAMESPACES)) {
        const dir = `${base}/${ns}/${id}`;
        const meta = await readJson(`${dir}/config.json`, parseOciConfig, signal, base);
        if (meta) return { meta, dir, cri: ns === "k8s.io" || !!meta.labels["io.kubernetes.cri.container-type"] };
      }
    }
    return undefined;
  };
  const storage = async (id: string, signal: AbortSignal) => {
    for (const base of STORAGE_DIRS) {
      const dir = `${root}/${base}/${id}`;
      const meta = await readJson(`${dir}/userdata/config.json`, parseOciConfig, signal);
      if (!meta) continue;
      if (!meta.image) meta.image = (await readJson(`${root}/${base}/containers.json`, parseStorageContainers, signal))?.get(id) ?? "";
      return { meta, dir };
    }
    return undefined;
  };
  const docker = async (id: string, signal: AbortSignal) => {
    const dir = `${root}/${DOCKER_CONTAINERS_DIR}/${id}`;
    const meta = await readJson(`${dir}/config.v2.json`, parseDockerConfig, signal);
    return meta && { meta, dir };
  };

  return {
    async read(id, runtime, signal, ns) {
      switch (runtime) {
        case ContainerRuntime.DOCKER: {
          const d = await docker(id, signal);
          return d && { runtime, ...d };
        }
        case ContainerRuntime.CONTAINERD:
        case ContainerRuntime.CRI_CONTAINERD: {
          const c = await containerd(id, signal, ns);
          return c && { runtime, meta: c.meta, dir: c.dir };
        }
        case ContainerRuntime.CRI_O:
        case ContainerRuntime.PODMAN: {
          const s = await storage(id, signal);
          return s && { runtime, ...s };
        }
        default: {
          const c = await containerd(id, signal);
          if (c) return { runtime: c.cri ? ContainerRuntime.CRI_CONTAINERD : ContainerRuntime.CONTAINERD, meta: c.meta, dir: c.dir };
          const d = await docker(id, signal);
          if (d) return { runtime: ContainerRuntime.DOCKER, ...d };
          const s = await storage(id, signal);
          if (s)
            return { runtime: s.meta.labels["io.kubernetes.cri-o.ImageName"] ? ContainerRuntime.CRI_O : ContainerRuntime.PODMAN, ...s };
          return undefined;
        }
      }
    },
  };
}
