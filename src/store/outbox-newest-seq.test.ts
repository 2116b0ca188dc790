// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Outbox.newestSeq: the highest pending seq of a channel, as the intake's resync reads it.

import { expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { silentLogger } from "../log/logger.ts";
import { TypeDescriptorSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { ResourceMetaSchema, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { openStore } from "./index.ts";

const configMap = (name: string, v: string) =>
  create(ResourceSchema, {
    type: create(TypeDescriptorSchema, { kind: "resource.v1.Resource", type: "k8s.io.api.core.v1.ConfigMap" }),
    metadata: create(ResourceMetaSchema, { name, tags: [{ $typeName: "resource.v1.Tag", key: "v", value: v }] }),
  });

test("newestSeq is the highest pending seq of the channel, 0 when empty, and follows coalescing and confirms", () => {
  const s = openStore({ dataDirectory: "", logger: silentLogger });
  try {
    expect(s.outbox.newestSeq("cluster")).toBe(0);
    s.updateResource(configMap("a", "1"));
    s.updateResource(configMap("b", "1"));
    const pending = s.outbox.readRaw("cluster", 0, 100);
    expect(s.outbox.newestSeq("cluster")).toBe(pending.at(-1)!.seq);
    expect(s.outbox.newestSeq("instance")).toBe(0);
    // a newer change of "a" coalesces into its entry with a higher seq
    s.updateResource(configMap("a", "2"));
    const after = s.outbox.readRaw("cluster", 0, 100);
    expect(s.outbox.newestSeq("cluster")).toBe(Math.max(...after.map((e) => e.seq)));
    expect(s.outbox.newestSeq("cluster")).toBeGreaterThan(pending.at(-1)!.seq);
    s.outbox.confirm("cluster", after);
    expect(s.outbox.newestSeq("cluster")).toBe(0);
    s.close();
    expect(() => s.outbox.newestSeq("cluster")).toThrow("store closed");
  } finally {
    s.close();
  }
});
