// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** Object builders and store readers shared by the kube integration tests. */

import { PAIRS } from "../../src/kube/graph/convert.ts";
import type { Store } from "../../src/store/types.ts";
import type { KubeTestEnv } from "../helpers/kube-testenv.ts";

export interface Meta {
  name: string;
  namespace?: string;
  uid?: string;
}

export async function kreq<T = Record<string, any>>(
  env: KubeTestEnv,
  method: string,
  p: string,
  body?: unknown,
  contentType?: string,
): Promise<T> {
  const res = await env.request(method, p, body, contentType);
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 400)}`);
  return JSON.parse(text) as T;
}

export function owner(kind: string, apiVersion: string, o: { metadata: { name: string; uid: string } }, controller = true) {
  return { apiVersion, kind, name: o.metadata.name, uid: o.metadata.uid, controller };
}

export const api = {
  namespace: (env: KubeTestEnv, name: string) => kreq(env, "POST", "/api/v1/namespaces", { metadata: { name } }),
  node: (env: KubeTestEnv, name: string, labels: Record<string, string> = {}, providerID = "") =>
    kreq(env, "POST", "/api/v1/nodes", { metadata: { name, labels }, spec: providerID ? { providerID } : {} }),
  pod: (
    env: KubeTestEnv,
    ns: string,
    name: string,
    o: { node?: string; owners?: unknown[]; pvcs?: string[]; labels?: Record<string, string>; managedNoise?: boolean } = {},
  ) =>
    kreq(env, "POST", `/api/v1/namespaces/${ns}/pods`, {
      metadata: { name, labels: o.labels ?? {}, ownerReferences: o.owners ?? [] },
      spec: {
        nodeName: o.node,
        containers: [{ name: "c", image: "registry.k8s.io/pause:3.10" }],
        volumes: (o.pvcs ?? []).map((c, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName: c } })),
      },
    }),
  pv: (env: KubeTestEnv, name: string, storageClass = "", labels: Record<string, string> = {}) =>
    kreq(env, "POST", "/api/v1/persistentvolumes", {
      metadata: { name, labels },
      spec: {
        capacity: { storage: "1Gi" },
        accessModes: ["ReadWriteOnce"],
        hostPath: { path: `/tmp/${name}` },
        storageClassName: storageClass,
      },
    }),
  pvc: (env: KubeTestEnv, ns: string, name: string, volumeName = "") =>
    kreq(env, "POST", `/api/v1/namespaces/${ns}/persistentvolumeclaims`, {
      metadata: { name },
      spec: {
        accessModes: ["ReadWriteOnce"],
        resources: { requests: { storage: "1Gi" } },
        volumeName: volumeName || undefined,
        storageClassName: "",
      },
    }),
  storageClass: (env: KubeTestEnv, name: string) =>
    kreq(env, "POST", "/apis/storage.k8s.io/v1/storageclasses", { metadata: { name }, provisioner: "example.com/none" }),
  service: (env: KubeTestEnv, ns: string, name: string) =>
    kreq(env, "POST", `/api/v1/namespaces/${ns}/services`, {
      metadata: { name },
      spec: { selector: { app: name }, ports: [{ port: 80 }] },
    }),
  endpointSlice: (env: KubeTestEnv, ns: string, name: string, service: string, pods: string[]) =>
    kreq(env, "POST", `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
      metadata: { name, labels: { "kubernetes.io/service-name": service } },
      addressType: "IPv4",
      endpoints: pods.map((p, i) => ({ addresses: [`10.1.0.${i + 1}`], targetRef: { kind: "Pod", namespace: ns, name: p } })),
      ports: [{ port: 80 }],
    }),
  ingress: (env: KubeTestEnv, ns: string, name: string, service: string) =>
    kreq(env, "POST", `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses`, {
      metadata: { name },
      spec: {
        rules: [
          {
            host: "x.example.com",
            http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: service, port: { number: 80 } } } }] },
          },
        ],
      },
    }),
  deployment: (env: KubeTestEnv, ns: string, name: string) =>
    kreq(env, "POST", `/apis/apps/v1/namespaces/${ns}/deployments`, {
      metadata: { name },
      spec: {
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "c", image: "registry.k8s.io/pause:3.10" }] } },
      },
    }),
  replicaSet: (env: KubeTestEnv, ns: string, name: string, owners: unknown[] = []) =>
    kreq(env, "POST", `/apis/apps/v1/namespaces/${ns}/replicasets`, {
      metadata: { name, ownerReferences: owners },
      spec: {
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "c", image: "registry.k8s.io/pause:3.10" }] } },
      },
    }),
  job: (env: KubeTestEnv, ns: string, name: string) =>
    kreq(env, "POST", `/apis/batch/v1/namespaces/${ns}/jobs`, {
      metadata: { name },
      spec: {
        template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "registry.k8s.io/pause:3.10" }] } },
      },
    }),
  del: (env: KubeTestEnv, p: string) => kreq(env, "DELETE", p, { gracePeriodSeconds: 0 }),
  patch: (env: KubeTestEnv, p: string, body: unknown) => kreq(env, "PATCH", p, body, "application/merge-patch+json"),
};

const SHORT: Record<string, string> = {
  "kubernetes.v1.Cluster": "Cluster",
};

function refString(r: { typeUrl: string; name: string; namespace?: { namespace: { case?: string; value?: any } } } | undefined): string {
  if (!r) return "?";
  const kind = SHORT[r.typeUrl] ?? r.typeUrl.split(".").pop();
  const ns = r.namespace?.namespace.case === "kube" ? r.namespace.namespace.value.namespace : "";
  return ns ? `${kind}:${ns}/${r.name}` : `${kind}:${r.name}`;
}

/** Every kube/network relationship in the store as "Pred Subject -> Object" strings, sorted. */
export function relationshipStrings(store: Store): string[] {
  const out: string[] = [];
  for (const [fwd, inv] of Object.values(PAIRS)) {
    for (const pred of [fwd, inv]) {
      const rels = store.findRelationships({ predicate: pred });
      for (const r of rels) out.push(`${pred.split(".").pop()} ${refString(r.subject)} -> ${refString(r.object)}`);
    }
  }
  return out.sort();
}

/** Expected strings for a pair (both directions). */
export function pair(kind: keyof typeof PAIRS, a: string, b: string): string[] {
  const [fwd, inv] = PAIRS[kind];
  return [`${fwd.split(".").pop()} ${a} -> ${b}`, `${inv.split(".").pop()} ${b} -> ${a}`];
}

export async function eventually(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await Bun.sleep(50);
  }
}
