// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** The netgraph concern's interface: the service graph component and its pieces. */

export { createNetgraphComponent, NetgraphComponent, type NetgraphOptions } from "./component.ts";
export {
  type Edge,
  type Endpoint,
  EXTERNAL_ENDPOINT_TYPE,
  externalBlock,
  type Flow,
  ROUTED_FROM,
  ROUTES_TO,
  ServiceGraph,
} from "./graph.ts";
export { KubeIndex, nodeAddresses, podFacts, serviceIps } from "./k8s-index.ts";
export { registerNetgraphMetrics } from "./metrics.ts";
export { CgroupPodResolver, podUidFromCgroupText, type WorkloadResolver } from "./workload.ts";
