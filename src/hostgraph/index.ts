// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Host graph: this machine's hardware and system inventory (antimetal.hardware.v1) as resources
 * and relationships in the store, refreshed on an interval, linked to its Kubernetes Node.
 * See docs/hostgraph.md.
 */

export {
  buildHostGraph,
  HARDWARE_PREDICATES,
  type HostGraph,
  KUBE_NODE_TYPE,
  NODE_LINK_PREDICATES,
  nodeLinkRelationships,
} from "./build.ts";
export { withHostGraphChannels } from "./channels.ts";
export { collectInventory, createHardwareCollectors, type HardwareCollectors } from "./collect.ts";
export { readHostFacts, readMachineId, readSystemName, readSystemUuid } from "./facts.ts";
export { createHostGraphComponent, type HostGraphComponent, type HostGraphOptions, type RefreshResult } from "./manager.ts";
export { renderGraph } from "./render.ts";
export type { HostFacts, HostInventory } from "./types.ts";
