// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Which outbox channel the host graph's relationships to its Kubernetes Node upload on.

import { type Classifier, INSTANCE_CHANNEL } from "../graph/names.ts";
import { RegisteredAsSchema, UnderlyingSchema } from "../proto/gen/kubernetes/v1/relationships_pb.ts";

/** SystemNode --RegisteredAs--> Kubernetes Node, Node --Underlying--> SystemNode. */
export const NODE_LINK_PREDICATES = [RegisteredAsSchema.typeName, UnderlyingSchema.typeName] as const;

const LINK = new Set<string>(NODE_LINK_PREDICATES);

/**
 * Wraps the store's outbox classifier so the host-to-Node link relationships
 * (kubernetes.v1.RegisteredAs / kubernetes.v1.Underlying) go to the "instance" channel with the
 * rest of this host's graph: only this agent knows them, and the "cluster" channel uploads from the
 * leader only. Pass `classify: withHostGraphChannels(defaultClassifier)` to openStore.
 */
export function withHostGraphChannels(base: Classifier): Classifier {
  return (type) => (LINK.has(type) ? INSTANCE_CHANNEL : base(type));
}
