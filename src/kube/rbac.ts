// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The RBAC the controller needs, derived from what the code watches. deploy/kubernetes/base/rbac
 * must equal this (test/kube/rbac.test.ts checks the YAML and exercises it on a real apiserver).
 */

import { KINDS } from "./kinds.ts";
import { DEFAULT_LEASE_NAME } from "./leader.ts";

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export const READ = ["get", "list", "watch"];

/** ClusterRole antimetal-agent: read-only, exactly the watched kinds plus kube-public/cluster-info. */
export function clusterRoleRules(): PolicyRule[] {
  const byGroup = new Map<string, string[]>();
  for (const k of KINDS) {
    const list = byGroup.get(k.group) ?? [];
    list.push(k.resource);
    byGroup.set(k.group, list);
  }
  const rules: PolicyRule[] = [...byGroup.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([group, resources]) => ({ apiGroups: [group], resources: resources.sort(), verbs: READ }));
  // cluster name for kind/kubeadm clusters (providers/index.ts clusterInfoName): a single GET
  rules.push({ apiGroups: [""], resources: ["configmaps"], resourceNames: ["cluster-info"], verbs: ["get"] });
  return rules;
}

/**
 * Role antimetal-agent-leader-election (agent namespace): get and update only the agent's Lease;
 * create cannot be limited by resourceNames (the name is not known at authorization time).
 */
export function leaderElectionRules(): PolicyRule[] {
  return [
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: [DEFAULT_LEASE_NAME], verbs: ["get", "update"] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
  ];
}
