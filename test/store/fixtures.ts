// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Builders for the store tests: temp dirs, kube refs, resources of a given size, Contains relationships.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { ContainsSchema } from "../../src/proto/gen/kubernetes/v1/relationships_pb.ts";
import { type Relationship, RelationshipSchema } from "../../src/proto/gen/resource/v1/relationship_pb.ts";
import { type Resource, type ResourceRef, ResourceRefSchema, ResourceSchema } from "../../src/proto/gen/resource/v1/resource_pb.ts";

export const POD = "k8s.io.api.core.v1.Pod";
export const NODE = "k8s.io.api.core.v1.Node";
export const CORE = "antimetal.hardware.v1.CPUCoreNode";

export function tempDir(prefix = "store-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function kubeRef(type: string, name: string, namespace = "default"): ResourceRef {
  return create(ResourceRefSchema, {
    typeUrl: type,
    name,
    namespace: { namespace: { case: "kube", value: { cluster: "c1", namespace } } },
  });
}

/** A resource of about `size` bytes (the spec Any carries filler). */
export function resource(type: string, name: string, region = "", size = 0): Resource {
  return create(ResourceSchema, {
    type: { kind: "resource.v1.Resource", type },
    metadata: { name, region, namespace: kubeRef(type, name).namespace },
    spec: { typeUrl: type, value: new Uint8Array(size).fill(120) },
  });
}

export function contains(subject: ResourceRef, object: ResourceRef, type = "kubernetes.v1.Contains"): Relationship {
  return create(RelationshipSchema, {
    type: { kind: "resource.v1.Relationship", type },
    subject,
    object,
    predicate: anyPack(ContainsSchema, create(ContainsSchema)),
  });
}
