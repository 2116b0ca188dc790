// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Subscriptions.wants: the store builds a write's event only when it is true, so it must be true
// exactly when deliver() would hand the event to some open subscriber.

import { expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { silentLogger } from "../log/logger.ts";
import { TypeDescriptorSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { Subscriptions } from "./subscriptions.ts";

const td = (kind: string, type: string) => create(TypeDescriptorSchema, { kind, type });

test("wants: an open subscriber's filters (dot-segment prefixes, empty list = everything), not a closed one's", () => {
  const subs = new Subscriptions(silentLogger);
  expect(subs.wants("resource.v1.Resource", "k8s.io.api.core.v1.Pod")).toBe(false);
  const pods = subs.add(
    [td("", "k8s.io.api.core.v1.Pod")],
    () => undefined,
    0,
    () => [],
  );
  expect(subs.wants("resource.v1.Resource", "k8s.io.api.core.v1.Pod")).toBe(true);
  expect(subs.wants("resource.v1.Relationship", "k8s.io.api.core.v1.Pod")).toBe(true);
  expect(subs.wants("resource.v1.Resource", "k8s.io.api.core.v1.PodTemplate")).toBe(false);
  expect(subs.wants("resource.v1.Relationship", "kubernetes.v1.Contains")).toBe(false);
  const relationships = subs.add(
    [td("resource.v1.Relationship", "")],
    () => undefined,
    0,
    () => [],
  );
  expect(subs.wants("resource.v1.Relationship", "kubernetes.v1.Contains")).toBe(true);
  relationships.close();
  expect(subs.wants("resource.v1.Relationship", "kubernetes.v1.Contains")).toBe(false);
  pods.close();
  expect(subs.wants("resource.v1.Resource", "k8s.io.api.core.v1.Pod")).toBe(false);
  subs.add(
    [],
    () => undefined,
    0,
    () => [],
  );
  expect(subs.wants("anything", "at.all")).toBe(true);
});
