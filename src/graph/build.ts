// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The Resource and Relationship builders every graph source (Kubernetes, host, runtime) uses, so
// the objects they put in the store have one shape.

import { create, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { type Any, AnySchema, anyPack } from "@bufbuild/protobuf/wkt";
import { type Namespace, NamespaceSchema } from "../proto/gen/resource/v1/namespace_pb.ts";
import { type TypeDescriptor, TypeDescriptorSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { type Relationship, RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";
import {
  type Resource,
  ResourceMetaSchema,
  type ResourceRef,
  ResourceRefSchema,
  ResourceSchema,
} from "../proto/gen/resource/v1/resource_pb.ts";
import { freezeShared } from "./keys.ts";
import { RELATIONSHIP_KIND, RESOURCE_KIND, typeUrlOf } from "./names.ts";

export interface ResourceInit {
  /** TypeDescriptor.type: the full proto name of the spec's message ("k8s.io.api.core.v1.Pod"). */
  type: string;
  /** name, namespace (with `type`, the resource's key), provider, tags, region... */
  metadata: MessageInitShape<typeof ResourceMetaSchema>;
  /** The spec as an Any (see packSpec; Kubernetes objects carry their raw protobuf). */
  spec?: Any;
}

/** A Resource of kind resource.v1.Resource. */
export function newResource(init: ResourceInit): Resource {
  return create(ResourceSchema, {
    type: create(TypeDescriptorSchema, { kind: RESOURCE_KIND, type: init.type }),
    metadata: create(ResourceMetaSchema, init.metadata),
    spec: init.spec,
  });
}

/** `init` as a message of `schema`, packed into an Any with the full type URL. */
export function packMessage<D extends DescMessage>(schema: D, init: MessageInitShape<D>): Any {
  return anyPack(schema, create(schema, init) as MessageShape<D>);
}

export function resourceRef(typeUrl: string, name: string, namespace?: Namespace): ResourceRef {
  return create(ResourceRefSchema, { typeUrl, name, namespace });
}

export function kubeNamespace(cluster: string, namespace: string): Namespace {
  return create(NamespaceSchema, { namespace: { case: "kube", value: { cluster, namespace } } });
}

export interface RelationshipInit {
  subject: ResourceRef;
  object: ResourceRef;
  /** The predicate message as an Any; the relationship's type is its full proto name. */
  predicate: Any;
  /** TypeDescriptor.type; default: the predicate's proto name. */
  type?: string;
}

const descriptors = new Map<string, TypeDescriptor>();

/** The shared TypeDescriptor of a relationship type (built once per type; never mutate it). */
function relationshipDescriptor(type: string): TypeDescriptor {
  let d = descriptors.get(type);
  if (!d) {
    d = freezeShared(create(TypeDescriptorSchema, { kind: RELATIONSHIP_KIND, type }));
    descriptors.set(type, d);
  }
  return d;
}

/** A Relationship of kind resource.v1.Relationship. */
export function newRelationship(init: RelationshipInit): Relationship {
  const type = init.type ?? init.predicate.typeUrl.slice(init.predicate.typeUrl.lastIndexOf("/") + 1);
  return create(RelationshipSchema, {
    type: relationshipDescriptor(type),
    subject: init.subject,
    object: init.object,
    predicate: init.predicate,
  });
}

const EMPTY = new Uint8Array(0);
const emptyPredicates = new Map<string, Any>();

/**
 * The predicate of an empty message named `typeName` (kubernetes.v1.Contains, network.v1.RoutesTo...),
 * the same bytes anyPack gives; shared between relationships (never mutate it).
 */
export function emptyPredicate(typeName: string): Any {
  let p = emptyPredicates.get(typeName);
  if (!p) {
    p = freezeShared(create(AnySchema, { typeUrl: typeUrlOf(typeName), value: EMPTY }));
    emptyPredicates.set(typeName, p);
  }
  return p;
}
