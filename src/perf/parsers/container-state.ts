// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parsers for the container runtimes' own state files on the host, to the labels kubelet's cAdvisor puts
// on container_* series: an OCI bundle's config.json (containerd's CRI annotations, cri-o's annotations)
// and docker's config.v2.json. Pure: text in, labels out; undefined when the text is not the expected JSON.

/** kubelet's cAdvisor labels other than `id` ("" when the runtime does not say). */
export interface ContainerLabels {
  container: string;
  pod: string;
  namespace: string;
  image: string;
  name: string;
  /** When the runtime created the container (unix seconds), if its state file says. */
  createdSeconds?: number;
}

export const EMPTY_LABELS: Readonly<ContainerLabels> = Object.freeze({ container: "", pod: "", namespace: "", image: "", name: "" });

const str = (v: unknown): string => (typeof v === "string" ? v : "");

function parseObject(text: string): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    if (e instanceof SyntaxError) return undefined; // truncated or not JSON: no labels
    throw e;
  }
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** RFC 3339 time (docker's and cri-o's "Created") to unix seconds; undefined for the zero time or junk. */
export function rfc3339Seconds(s: string): number | undefined {
  if (!s || s.startsWith("0001-01-01")) return undefined;
  // Date.parse keeps milliseconds only; Go prints up to nanoseconds, which Date.parse accepts after trimming.
  const ms = Date.parse(s.replace(/(\.\d{3})\d+/, "$1"));
  return Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : undefined;
}

/**
 * An OCI bundle config.json (containerd's task bundle, cri-o's userdata): labels from its annotations.
 * containerd's CRI plugin: io.kubernetes.cri.{container-name, sandbox-name, sandbox-namespace, image-name}
 * (a sandbox has no container name); cri-o: io.kubernetes.{container.name, pod.name, pod.namespace},
 * io.kubernetes.cri-o.{ImageName, Name, Created}. `name` is what cAdvisor's handler uses as the first
 * alias: the container id for containerd, cri-o's container name (k8s_...) for cri-o.
 */
export function parseOciBundleLabels(text: string, id: string): ContainerLabels | undefined {
  const spec = parseObject(text);
  if (!spec) return undefined;
  const a = (typeof spec.annotations === "object" && spec.annotations !== null ? spec.annotations : {}) as Record<string, unknown>;
  const crio = str(a["io.kubernetes.cri-o.Name"]) !== "" || str(a["io.kubernetes.cri-o.ImageName"]) !== "";
  if (crio) {
    const created = rfc3339Seconds(str(a["io.kubernetes.cri-o.Created"]));
    return {
      container: str(a["io.kubernetes.container.name"]),
      pod: str(a["io.kubernetes.pod.name"]),
      namespace: str(a["io.kubernetes.pod.namespace"]),
      image: str(a["io.kubernetes.cri-o.ImageName"]),
      name: str(a["io.kubernetes.cri-o.Name"]),
      ...(created !== undefined ? { createdSeconds: created } : {}),
    };
  }
  return {
    container: str(a["io.kubernetes.cri.container-name"]),
    pod: str(a["io.kubernetes.cri.sandbox-name"]),
    namespace: str(a["io.kubernetes.cri.sandbox-namespace"]),
    image: str(a["io.kubernetes.cri.image-name"]),
    name: id,
  };
}

/**
 * docker's /var/lib/docker/containers/<id>/config.v2.json: Name without its leading "/", Config.Image
 * as the user gave it, the io.kubernetes.* labels dockershim/cri-dockerd set, and Created.
 */
export function parseDockerConfigV2(text: string): ContainerLabels | undefined {
  const c = parseObject(text);
  if (!c) return undefined;
  const config = (typeof c.Config === "object" && c.Config !== null ? c.Config : {}) as Record<string, unknown>;
  const labels = (typeof config.Labels === "object" && config.Labels !== null ? config.Labels : {}) as Record<string, unknown>;
  const created = rfc3339Seconds(str(c.Created));
  return {
    container: str(labels["io.kubernetes.container.name"]),
    pod: str(labels["io.kubernetes.pod.name"]),
    namespace: str(labels["io.kubernetes.pod.namespace"]),
    image: str(config.Image),
    name: str(c.Name).replace(/^\//, ""),
    ...(created !== undefined ? { createdSeconds: created } : {}),
  };
}
