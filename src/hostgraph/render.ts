// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Proto3 JSON of a host graph (Any specs and predicates expanded), for golden files and debugging.

import { createRegistry, type JsonValue, toJson } from "@bufbuild/protobuf";
import { file_antimetal_hardware_v1_hardware } from "../proto/gen/antimetal/hardware/v1/hardware_pb.ts";
import { file_kubernetes_v1_relationships } from "../proto/gen/kubernetes/v1/relationships_pb.ts";
import { type Relationship, RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";
import { type Resource, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";

const registry = createRegistry(file_antimetal_hardware_v1_hardware, file_kubernetes_v1_relationships);

/** Proto3 JSON of a graph (Any specs and predicates expanded), for golden files and debugging. */
export function renderGraph(g: { resources: Resource[]; relationships: Relationship[] }): {
  resources: JsonValue[];
  relationships: JsonValue[];
} {
  return {
    resources: g.resources.map((r) => toJson(ResourceSchema, r, { registry })),
    relationships: g.relationships.map((r) => toJson(RelationshipSchema, r, { registry })),
  };
}
