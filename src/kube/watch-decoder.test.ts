// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Byte fixtures of the protobuf watch stream and LIST body through the pure decoders.

import { describe, expect, test } from "bun:test";
import { readObjectMeta, readResourceVersion } from "./pb.ts";
import { decodeListPage, decodeStatus, decodeWatchFrame, FrameSplitter } from "./watch-decoder.ts";

const hex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));

// Each frame: 4-byte big-endian length, then metav1.WatchEvent{type=1, object=2{raw=1}} whose raw is
// "k8s\0" + runtime.Unknown{typeMeta=1{apiVersion, kind}, raw=2} (the apiserver's stream encoding).
const ADDED_TEAM_A_RV12 = hex("000000300a05414444454412270a256b3873000a0f0a02763112094e616d657370616365120e0a0c0a067465616d2d6132023132");
const DELETED_TEAM_B_RV15 = hex(
  "000000320a0744454c4554454412270a256b3873000a0f0a02763112094e616d657370616365120e0a0c0a067465616d2d6232023135",
);
const BOOKMARK_RV20 = hex("0000002b0a08424f4f4b4d41524b121f0a1d6b3873000a0f0a02763112094e616d65737061636512060a0432023230");
const ERROR_410 = hex(
  "0000004c0a054552524f5212430a416b3873000a0c0a0276311206537461747573122d1a1f746f6f206f6c64207265736f757263652076657273696f6e3a203520283929220745787069726564309a03",
);
// NamespaceList{metadata{resourceVersion "30", continue "tok"}, items [a@28, b@29]}, enveloped.
const LIST_PAGE = hex(
  "6b3873000a130a027631120d4e616d6573706163654c69737412210a09120233301a03746f6b12090a070a01613202323812090a070a016232023239",
);

const stream = new Uint8Array([...ADDED_TEAM_A_RV12, ...DELETED_TEAM_B_RV15, ...BOOKMARK_RV20, ...ERROR_410]);

function decodeAll(chunks: Uint8Array[]) {
  const frames = new FrameSplitter();
  const out = chunks.flatMap((c) => frames.push(c).map((f) => decodeWatchFrame(f)));
  return { out, pending: frames.pending() };
}

function summary(events: ReturnType<typeof decodeWatchFrame>[]) {
  return events.map((e) => {
    if (e.type === "BOOKMARK") return `BOOKMARK ${readResourceVersion(e.object)}`;
    if (e.type === "ERROR") return `ERROR ${decodeStatus(e.object).code}`;
    const m = readObjectMeta(e.object);
    return `${e.type} ${m.name}@${m.resourceVersion}`;
  });
}

describe("watch stream decoder", () => {
  test("frames → events in order: object bytes without the envelope, bookmark RV, ERROR status", () => {
    const { out, pending } = decodeAll([stream]);
    expect(summary(out)).toEqual(["ADDED team-a@12", "DELETED team-b@15", "BOOKMARK 20", "ERROR 410"]);
    expect(pending).toBe(0);
    expect(decodeStatus(out[3]!.object)).toEqual({ code: 410, reason: "Expired", message: "too old resource version: 5 (9)" });
  });

  test("chunks split anywhere (inside the length prefix, inside a frame, one byte at a time) decode the same", () => {
    const want = summary(decodeAll([stream]).out);
    for (const at of [1, 2, 3, 4, 5, 20, ADDED_TEAM_A_RV12.length, ADDED_TEAM_A_RV12.length + 2]) {
      expect(summary(decodeAll([stream.subarray(0, at), stream.subarray(at)]).out)).toEqual(want);
    }
    const bytes = Array.from(stream, (b) => new Uint8Array([b]));
    expect(summary(decodeAll(bytes).out)).toEqual(want);
  });

  test("a stream cut mid-frame holds the partial frame back and reports it pending", () => {
    const { out, pending } = decodeAll([stream.subarray(0, ADDED_TEAM_A_RV12.length + 10)]);
    expect(summary(out)).toEqual(["ADDED team-a@12"]);
    expect(pending).toBe(10);
  });

  test("an unknown event type and an event without an object are errors naming the type", () => {
    const bad = (type: string, withObject: boolean) => {
      const t = new TextEncoder().encode(type);
      const body = [0x0a, t.length, ...t, ...(withObject ? [0x12, 0x03, 0x0a, 0x01, 0x00] : [])];
      return new Uint8Array(body);
    };
    expect(() => decodeWatchFrame(bad("RESYNC", true))).toThrow('unknown watch event type "RESYNC"');
    expect(() => decodeWatchFrame(bad("ADDED", false))).toThrow("watch event ADDED without object");
  });
});

describe("LIST page decoder", () => {
  test("resourceVersion, continue token and each item's object bytes", () => {
    const page = decodeListPage(LIST_PAGE);
    expect(page.resourceVersion).toBe("30");
    expect(page.continueToken).toBe("tok");
    expect(page.items.map((i) => readObjectMeta(i)).map((m) => `${m.name}@${m.resourceVersion}`)).toEqual(["a@28", "b@29"]);
  });

  test("a body without the k8s protobuf magic is rejected", () => {
    expect(() => decodeListPage(LIST_PAGE.subarray(4))).toThrow("missing k8s protobuf magic");
  });
});
