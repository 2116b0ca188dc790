// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Config objects: protojson/YAML decoding, the Go agent's validation messages, version comparison, UUIDv7.

import { expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { ObjectSchema } from "../../proto/gen/antimetal/types/v1/object_pb.ts";
import { TypeDescriptorSchema } from "../../proto/gen/antimetal/types/v1/types_pb.ts";
import { semanticVersion, uuidv7 } from "./instance.ts";
import { compareVersions, configErrorOf, decodeObjectText, HOST_STATS_TYPE, hostStatsObject, parseObject } from "./parse.ts";

const status = (c: string) => (c === "cpu" ? { available: true, reason: "available" } : { available: false, reason: "not found" });

test("compareVersions: one leading v stripped, decimal integers only, empty previous is older", () => {
  expect(compareVersions("v2", "v1")).toBe(1);
  expect(compareVersions("1", "v1")).toBe(0);
  expect(compareVersions("v1", "2")).toBe(-1);
  expect(compareVersions("v1", "")).toBe(1);
  expect(() => compareVersions("1.2", "1")).toThrow("could not parse version 1.2");
  expect(() => compareVersions("", "1")).toThrow("could not parse version ");
  expect(() => compareVersions("1", "x")).toThrow("could not parse version x");
  expect(() => compareVersions("-1", "")).toThrow("could not parse version -1");
});

test("parseObject: the original's checks in its order, with its messages", () => {
  const obj = (fields: Record<string, unknown>) => create(ObjectSchema, fields as never);
  const cases: Array<[ReturnType<typeof obj> | undefined, string]> = [
    [undefined, "object is nil"],
    [obj({ name: "a" }), "object type is nil"],
    [obj({ name: "a", type: create(TypeDescriptorSchema, { kind: "k" }) }), "object type.type is empty"],
    [obj({ type: create(TypeDescriptorSchema, { type: HOST_STATS_TYPE }) }), "object name is empty"],
    [obj({ name: "a", type: create(TypeDescriptorSchema, { type: HOST_STATS_TYPE }) }), "object data is empty"],
    [obj({ name: "a", type: create(TypeDescriptorSchema, { type: "x.Y" }), data: new Uint8Array([1]) }), "unrecognized type: x.Y"],
    [
      obj({ name: "a", type: create(TypeDescriptorSchema, { type: HOST_STATS_TYPE }), data: new Uint8Array([0xff, 0xff]) }),
      "failed to parse config: failed to unmarshal: ",
    ],
    [hostStatsObject("a", "", 1), "failed to parse config: collector name is empty"],
    [hostStatsObject("a", "gpu", 1), "failed to parse config: collector gpu is not available: not found"],
    [hostStatsObject("a", "cpu", 90_000), "failed to parse config: interval_seconds 90000 is over 86400 (24h)"],
  ];
  for (const [o, message] of cases) {
    const r = parseObject(o, "test", status);
    expect(r.status).toBe("invalid");
    expect(r.error!).toStartWith(message);
  }
  const ok = parseObject(hostStatsObject("a", "cpu", 5, "v3"), "test", status);
  expect(ok).toMatchObject({ status: "ok", name: "a", version: "v3", typeUrl: HOST_STATS_TYPE });
  expect(ok.config!.intervalSeconds).toBe(5);
});

test("decodeObjectText: strict protojson, YAML's first document, empty file", () => {
  const json = '{"type":{"type":"antimetal.agent.v1.HostStatsCollectionConfig"},"name":"cpu","version":"v1","data":"CgNjcHUQBQ=="}';
  const o = decodeObjectText(json, "json");
  expect(parseObject(o, "f", status).config!.intervalSeconds).toBe(5);
  const yaml = "type:\n  type: antimetal.agent.v1.HostStatsCollectionConfig\nname: cpu\ndata: CgNjcHUQBQ==\nttl: 300s\n";
  expect(parseObject(decodeObjectText(yaml, "yaml"), "f", status).ttlMs).toBe(300_000);
  expect(() => decodeObjectText("  \n", "yaml")).toThrow("config file is empty");
  expect(() => decodeObjectText('{"name":"a","extra":1}', "json")).toThrow("failed to unmarshal config file");
});

test("configErrorOf names the object and the reason", () => {
  const e = configErrorOf({ typeUrl: HOST_STATS_TYPE, name: "a", error: "boom" });
  expect(e.configRef!.type!.type).toBe(HOST_STATS_TYPE);
  expect(e.configRef!.name).toBe("a");
  expect(e.reason).toBe("boom");
});

test("instance: UUIDv7 layout and semantic version parsing", () => {
  const id = uuidv7(0x0123456789ab);
  expect(id.length).toBe(16);
  expect(Buffer.from(id.slice(0, 6)).toString("hex")).toBe("0123456789ab");
  expect(id[6]! >> 4).toBe(7);
  expect(id[8]! >> 6).toBe(2);
  expect(semanticVersion("1.4.2")).toEqual({ major: 1, minor: 4, patch: 2 });
  expect(semanticVersion("v0.1.0-dev")).toEqual({ major: 0, minor: 1, patch: 0 });
  expect(semanticVersion("garbage")).toEqual({ major: 0, minor: 0, patch: 0 });
});
