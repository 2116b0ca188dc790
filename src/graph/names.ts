// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The graph's names: the two entity kinds, their Any type URLs, and the outbox channels every
// source, the store and the intake agree on.

/** TypeDescriptor.kind of a graph node and of a graph edge (full proto names). */
export const RESOURCE_KIND = "resource.v1.Resource";
export const RELATIONSHIP_KIND = "resource.v1.Relationship";

const TYPE_URL_PREFIX = "type.googleapis.com/";

/** The Any type URL of a message named `typeName` ("type.googleapis.com/<full proto name>"). */
export function typeUrlOf(typeName: string): string {
  return TYPE_URL_PREFIX + typeName;
}

/** Any type URLs of the two entities as the store puts them on the wire. */
export const RESOURCE_TYPE_URL = typeUrlOf(RESOURCE_KIND);
export const RELATIONSHIP_TYPE_URL = typeUrlOf(RELATIONSHIP_KIND);

/**
 * Outbox channel: a stream with its own upload rule. "cluster": Kubernetes objects, uploaded by
 * the leader only. "instance": this host's graph, uploaded by every agent.
 */
export type Channel = "cluster" | "instance";
export const CLUSTER_CHANNEL: Channel = "cluster";
export const INSTANCE_CHANNEL: Channel = "instance";
export const CHANNELS: readonly Channel[] = [CLUSTER_CHANNEL, INSTANCE_CHANNEL];

/** Object type (TypeDescriptor.type) -> outbox channel. */
export type Classifier = (type: string) => Channel;

/** "antimetal.*" (this host's graph) -> "instance"; everything else (k8s.io.*, kubernetes.*, network.*) -> "cluster". */
export const defaultClassifier: Classifier = (type) =>
  type === "antimetal" || type.startsWith("antimetal.") ? INSTANCE_CHANNEL : CLUSTER_CHANNEL;
