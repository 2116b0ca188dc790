// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Runtime graph: the containers and processes on this host (antimetal.runtime.v1) as resources and
 * relationships in the store, linked to the host's SystemNode and their Kubernetes Pods.
 * See docs/runtime-graph.md.
 */

export { CONTAINER_TYPE, PROCESS_TYPE, planRuntimeGraph, type RuntimeGraphInput, type RuntimeGraphPlan } from "./build.ts";
export { ContainerDiscovery, type ContainerInfo, type DiscoveryResult } from "./discover.ts";
export {
  createRuntimeGraphComponent,
  type LiveProcessEvents,
  type RuntimeGraphComponent,
  type RuntimeGraphOptions,
  type ScanResult,
} from "./manager.ts";
export { type CadvisorLabels, cadvisorLabels, type MetadataReader, type MetadataReaderOptions, metadataReader } from "./metadata.ts";
export { containerOfCgroup, OOM_TAGS, type OomKillEvent, type OomKillEvents } from "./oom.ts";
export { DEFAULT_PROCESS_POLICY, type ProcessPolicy } from "./processes.ts";
