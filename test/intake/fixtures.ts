// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Object builders for the intake tests: ~1 KiB cluster and instance resources versioned through a tag,
// Contains relationships, and refs.

import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { NamespaceSchema } from "../../src/proto/gen/resource/v1/namespace_pb.ts";
import { TypeDescriptorSchema } from "../../src/proto/gen/resource/v1/object_pb.ts";
import { Provider } from "../../src/proto/gen/resource/v1/provider_pb.ts";
import { type Relationship, RelationshipSchema } from "../../src/proto/gen/resource/v1/relationship_pb.ts";
import {
  type Resource,
  ResourceMetaSchema,
  type ResourceRef,
  ResourceRefSchema,
  ResourceSchema,
  TagSchema,
} from "../../src/proto/gen/resource/v1/resource_pb.ts";

export const CLUSTER_TYPE = "k8s.io.api.core.v1.ConfigMap";
export const INSTANCE_TYPE = "antimetal.hardware.v1.SystemNode";

const pad = new Uint8Array(1024).fill(0x61);

/** A resource whose encoded payload is about `payloadBytes` (default 1 KiB), versioned through tag v. */
export function resource(
  name: string,
  version: number,
  opts: { type?: string; payloadBytes?: number; tags?: Record<string, string> } = {},
): Resource {
  const type = opts.type ?? CLUSTER_TYPE;
  const payload = opts.payloadBytes === undefined || opts.payloadBytes === 1024 ? pad : new Uint8Array(opts.payloadBytes).fill(0x61);
  return create(ResourceSchema, {
    type: create(TypeDescriptorSchema, { kind: "resource.v1.Resource", type }),
    metadata: create(ResourceMetaSchema, {
      name,
      provider: Provider.KUBERNETES,
      namespace: type.startsWith("antimetal")
        ? undefined
        : create(NamespaceSchema, {
            namespace: { case: "kube", value: { $typeName: "resource.v1.KubernetesNamespace", cluster: "test", namespace: "default" } },
          }),
      tags: [
        create(TagSchema, { key: "v", value: String(version) }),
        ...Object.entries(opts.tags ?? {}).map(([key, value]) => create(TagSchema, { key, value })),
      ],
    }),
    spec: create(AnySchema, { typeUrl: "type.googleapis.com/test.v1.Blob", value: payload }),
  });
}

/** subject Contains object, both ConfigMaps in kube test/default. */
export function contains(subject: string, object: string): Relationship {
  const ns = () =>
    create(NamespaceSchema, {
      namespace: { case: "kube", value: { $typeName: "resource.v1.KubernetesNamespace", cluster: "test", namespace: "default" } },
    });
  return create(RelationshipSchema, {
    type: create(TypeDescriptorSchema, { kind: "resource.v1.Relationship", type: "kubernetes.v1.Contains" }),
    subject: create(ResourceRefSchema, { typeUrl: CLUSTER_TYPE, name: subject, namespace: ns() }),
    object: create(ResourceRefSchema, { typeUrl: CLUSTER_TYPE, name: object, namespace: ns() }),
    predicate: create(AnySchema, { typeUrl: "type.googleapis.com/kubernetes.v1.Contains", value: new Uint8Array() }),
  });
}

export function refOf(name: string, type = CLUSTER_TYPE): ResourceRef {
  return create(ResourceRefSchema, {
    typeUrl: type,
    name,
    namespace: type.startsWith("antimetal")
      ? undefined
      : create(NamespaceSchema, {
          namespace: { case: "kube", value: { $typeName: "resource.v1.KubernetesNamespace", cluster: "test", namespace: "default" } },
        }),
  });
}
