// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The builders put the same bytes on the wire as the hand-built messages the sources used before,
// and the readable keys order and identify like the stored ones.

import { expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { AnySchema, anyPack } from "@bufbuild/protobuf/wkt";
import { ContainmentType, ContainsSchema, SystemNodeSchema } from "../proto/gen/antimetal/hardware/v1/hardware_pb.ts";
import { ClusterProvider, ClusterSchema } from "../proto/gen/kubernetes/v1/cluster_pb.ts";
import { TypeDescriptorSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { Provider } from "../proto/gen/resource/v1/provider_pb.ts";
import { RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";
import { ResourceRefSchema, ResourceSchema, TagSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { emptyPredicate, kubeNamespace, newRelationship, newResource, packMessage, resourceRef } from "./build.ts";
import { encodeResourceKey, refPath, relationshipId, relationshipKey, resourceKeyOf, resourceRefOf } from "./keys.ts";
import { CLUSTER_CHANNEL, defaultClassifier, INSTANCE_CHANNEL, RELATIONSHIP_KIND, RESOURCE_KIND, RESOURCE_TYPE_URL } from "./names.ts";

test("newResource: the same bytes as a hand-built Resource (kube object, cluster, hardware)", () => {
  const ns = kubeNamespace("c1", "default");
  const pod = newResource({
    type: "k8s.io.api.core.v1.Pod",
    metadata: {
      provider: Provider.KUBERNETES,
      providerId: "uid",
      name: "p",
      namespace: ns,
      tags: [create(TagSchema, { key: "a", value: "b" })],
      region: "r",
    },
    spec: create(AnySchema, { typeUrl: "k8s.io.api.core.v1.Pod", value: new Uint8Array([1, 2, 3]) }),
  });
  const podByHand = create(ResourceSchema, {
    type: create(TypeDescriptorSchema, { kind: "resource.v1.Resource", type: "k8s.io.api.core.v1.Pod" }),
    metadata: { provider: Provider.KUBERNETES, providerId: "uid", name: "p", namespace: ns, tags: [{ key: "a", value: "b" }], region: "r" },
    spec: { typeUrl: "k8s.io.api.core.v1.Pod", value: new Uint8Array([1, 2, 3]) },
  });
  expect(toBinary(ResourceSchema, pod)).toEqual(toBinary(ResourceSchema, podByHand));

  const cluster = newResource({
    type: "kubernetes.v1.Cluster",
    metadata: { name: "c1" },
    spec: packMessage(ClusterSchema, { majorVersion: "1", provider: ClusterProvider.KIND }),
  });
  const clusterSpec = toBinary(ClusterSchema, create(ClusterSchema, { majorVersion: "1", provider: ClusterProvider.KIND }));
  expect(cluster.spec).toMatchObject({ typeUrl: "type.googleapis.com/kubernetes.v1.Cluster", value: clusterSpec });

  const sys = newResource({
    type: SystemNodeSchema.typeName,
    metadata: { provider: Provider.ANTIMETAL, name: "m" },
    spec: packMessage(SystemNodeSchema, { hostname: "h" }),
  });
  const sysByHand = create(ResourceSchema, {
    type: { kind: RESOURCE_KIND, type: SystemNodeSchema.typeName },
    metadata: { provider: Provider.ANTIMETAL, name: "m" },
    spec: anyPack(SystemNodeSchema, create(SystemNodeSchema, { hostname: "h" })),
  });
  expect(toBinary(ResourceSchema, sys)).toEqual(toBinary(ResourceSchema, sysByHand));
});

test("newRelationship: type from the predicate; empty predicates equal anyPack of the empty message", () => {
  const a = resourceRef("t.A", "a");
  const b = resourceRef("t.B", "b", kubeNamespace("c", "n"));
  const rel = newRelationship({ subject: a, object: b, predicate: packMessage(ContainsSchema, { type: ContainmentType.PHYSICAL }) });
  const byHand = create(RelationshipSchema, {
    type: { kind: RELATIONSHIP_KIND, type: ContainsSchema.typeName },
    subject: a,
    object: b,
    predicate: anyPack(ContainsSchema, create(ContainsSchema, { type: ContainmentType.PHYSICAL })),
  });
  expect(toBinary(RelationshipSchema, rel)).toEqual(toBinary(RelationshipSchema, byHand));
  const empty = newRelationship({ subject: a, object: b, predicate: emptyPredicate("kubernetes.v1.Owns") });
  expect(empty.type).toMatchObject({ kind: RELATIONSHIP_KIND, type: "kubernetes.v1.Owns" });
  expect(empty.predicate).toMatchObject({ typeUrl: "type.googleapis.com/kubernetes.v1.Owns", value: new Uint8Array(0) });
  // the shared parts are reused, not rebuilt
  expect(newRelationship({ subject: b, object: a, predicate: emptyPredicate("kubernetes.v1.Owns") }).predicate).toBe(empty.predicate!);
});

test("keys: resourceKeyOf = encodeResourceKey(resourceRefOf); refPath is the key before base64; relationship identity", () => {
  const r = newResource({ type: "t.Pod", metadata: { name: "p/1", namespace: kubeNamespace("c", "ns") } });
  expect(resourceKeyOf(r)).toBe(encodeResourceKey(resourceRefOf(r)));
  expect(resourceKeyOf(r)).toBe(`t.Pod/${Buffer.from("kube/c/ns/p/1").toString("base64url")}==`); // padded, as Go's URLEncoding
  expect(refPath(resourceRefOf(r))).toBe("t.Pod/kube/c/ns/p/1");
  expect(refPath(create(ResourceRefSchema, { typeUrl: "t.X", name: "x" }))).toBe("t.X/x");
  expect(() => resourceKeyOf(newResource({ type: "", metadata: { name: "x" } }))).toThrow("missing type");

  const a = resourceRef("t.A", "a");
  const b = resourceRef("t.B", "b");
  const one = newRelationship({ subject: a, object: b, predicate: packMessage(ContainsSchema, { type: ContainmentType.PHYSICAL }) });
  const same = newRelationship({
    subject: resourceRef("t.A", "a"),
    object: resourceRef("t.B", "b"),
    predicate: packMessage(ContainsSchema, { type: ContainmentType.PHYSICAL }),
  });
  same.createdAt = { $typeName: "google.protobuf.Timestamp", seconds: 5n, nanos: 0 };
  const other = newRelationship({ subject: a, object: b, predicate: packMessage(ContainsSchema, { type: ContainmentType.LOGICAL }) });
  expect(relationshipKey(same)).toBe(relationshipKey(one));
  expect(relationshipKey(other)).not.toBe(relationshipKey(one));
  const ids = (x: typeof one) =>
    Buffer.from(relationshipId(x, encodeResourceKey(x.subject!), encodeResourceKey(x.object!))).toString("hex");
  expect(ids(same)).toBe(ids(one));
  expect(ids(other)).not.toBe(ids(one));
});

test("names: type URLs and channels", () => {
  expect(RESOURCE_TYPE_URL).toBe("type.googleapis.com/resource.v1.Resource");
  expect(defaultClassifier("antimetal.hardware.v1.SystemNode")).toBe(INSTANCE_CHANNEL);
  expect(defaultClassifier("antimetal")).toBe(INSTANCE_CHANNEL);
  expect(defaultClassifier("antimetalx.Y")).toBe(CLUSTER_CHANNEL);
  expect(defaultClassifier("k8s.io.api.core.v1.Pod")).toBe(CLUSTER_CHANNEL);
});
