// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Which outbox channel the service graph's relationships upload on.

import { type Classifier, INSTANCE_CHANNEL } from "../graph/names.ts";
import { ROUTED_FROM, ROUTES_TO } from "./graph.ts";

/**
 * Wraps the store's outbox classifier so network.v1.RoutesTo / RoutedFrom go to the "instance"
 * channel: every node reports the edges it observes (the "cluster" channel uploads from the leader
 * only). ExternalEndpoint resources are "antimetal.*" and go there already.
 */
export function withNetgraphChannels(base: Classifier): Classifier {
  return (type) => (type === ROUTES_TO || type === ROUTED_FROM ? INSTANCE_CHANNEL : base(type));
}
