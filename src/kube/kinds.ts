// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The kinds the controller watches. The first ten are the original agent's; the rest are ours.
 * `protoType` is the gogo message name the original used as Resource.type.type and as the
 * (prefix-less) spec Any type_url. Secrets are never watched. deploy/kubernetes/base/rbac is
 * checked against this table by test/kube/rbac.test.ts.
 */

export interface KindSpec {
  kind: string;
  group: string;
  version: string;
  /** Plural resource name in the REST path. */
  resource: string;
  namespaced: boolean;
  protoType: string;
  /** One of the original agent's ten. */
  original: boolean;
}

function k(
  kind: string,
  group: string,
  version: string,
  resource: string,
  namespaced: boolean,
  protoPkg: string,
  original = false,
): KindSpec {
  return { kind, group, version, resource, namespaced, protoType: `k8s.io.api.${protoPkg}.${kind}`, original };
}

export const KINDS: ReadonlyArray<KindSpec> = [
  k("Node", "", "v1", "nodes", false, "core.v1", true),
  k("Pod", "", "v1", "pods", true, "core.v1", true),
  k("PersistentVolume", "", "v1", "persistentvolumes", false, "core.v1", true),
  k("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", true, "core.v1", true),
  k("Service", "", "v1", "services", true, "core.v1", true),
  k("DaemonSet", "apps", "v1", "daemonsets", true, "apps.v1", true),
  k("Deployment", "apps", "v1", "deployments", true, "apps.v1", true),
  k("ReplicaSet", "apps", "v1", "replicasets", true, "apps.v1", true),
  k("StatefulSet", "apps", "v1", "statefulsets", true, "apps.v1", true),
  k("Job", "batch", "v1", "jobs", true, "batch.v1", true),
  k("Namespace", "", "v1", "namespaces", false, "core.v1"),
  k("Ingress", "networking.k8s.io", "v1", "ingresses", true, "networking.v1"),
  k("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", true, "discovery.v1"),
  k("CronJob", "batch", "v1", "cronjobs", true, "batch.v1"),
  k("StorageClass", "storage.k8s.io", "v1", "storageclasses", false, "storage.v1"),
  k("HorizontalPodAutoscaler", "autoscaling", "v2", "horizontalpodautoscalers", true, "autoscaling.v2"),
  k("NetworkPolicy", "networking.k8s.io", "v1", "networkpolicies", true, "networking.v1"),
  k("PodDisruptionBudget", "policy", "v1", "poddisruptionbudgets", true, "policy.v1"),
];

export const KIND_BY_NAME: ReadonlyMap<string, KindSpec> = new Map(KINDS.map((s) => [s.kind, s]));

/** REST collection path, cluster-wide. */
export function collectionPath(s: KindSpec): string {
  return s.group ? `/apis/${s.group}/${s.version}/${s.resource}` : `/api/${s.version}/${s.resource}`;
}

/**
 * Proto type name for an owner reference's apiVersion/kind. Built-in groups map to their k8s.io.api
 * package; anything else (CRDs) gets a stable synthetic name from the group, so the owner is kept
 * as a reference instead of the object being dropped (the original dropped it).
 */
export function protoTypeFor(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes("/") ? (apiVersion.split("/", 2) as [string, string]) : ["", apiVersion];
  if (group === "") return `k8s.io.api.core.${version}.${kind}`;
  const builtin: Record<string, string> = {
    apps: "apps",
    batch: "batch",
    "networking.k8s.io": "networking",
    "discovery.k8s.io": "discovery",
    "storage.k8s.io": "storage",
    autoscaling: "autoscaling",
    policy: "policy",
    "rbac.authorization.k8s.io": "rbac",
    "coordination.k8s.io": "coordination",
    "scheduling.k8s.io": "scheduling",
    "node.k8s.io": "node",
    "certificates.k8s.io": "certificates",
    "admissionregistration.k8s.io": "admissionregistration",
    "resource.k8s.io": "resource",
  };
  const pkg = builtin[group];
  if (pkg) return `k8s.io.api.${pkg}.${version}.${kind}`;
  // CRD: reverse-DNS group as a proto package, e.g. argoproj.io/v1alpha1 Rollout -> io.argoproj.v1alpha1.Rollout
  return `${group.split(".").reverse().join(".")}.${version}.${kind}`;
}
