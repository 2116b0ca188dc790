// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Anchor for bench/intake: a minimal grpc-js client under Bun that sends the same DeltaRequests
// (100 deltas of ~1 KiB objects, ttl + delta_version set) on one client stream over TLS, honouring
// write()/drain, encoding with protobuf-es as it goes, then half-closes and awaits the response.
// No outbox, no store, no acknowledgement bookkeeping.
//
//   bun bench/intake/baseline.ts --address HOST:PORT --ca CA --n N
// Prints one JSON line: {ms, cpuUserMs, cpuSystemMs, rssBytes, bytes}.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { AnySchema, DurationSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { ObjectSchema, TypeDescriptorSchema } from "../../src/proto/gen/resource/v1/object_pb.ts";
import { ResourceSchema } from "../../src/proto/gen/resource/v1/resource_pb.ts";
import { DeltaOperation, DeltaRequestSchema, DeltaSchema } from "../../src/proto/gen/service/resource/v1/intake_pb.ts";
import { resource } from "../../test/intake/fixtures.ts";

const { values: a } = parseArgs({
  options: { address: { type: "string" }, ca: { type: "string" }, n: { type: "string", default: "50000" } },
});
const n = Number(a.n);
// The same objects the store would hand out: Object{type, Any(resource.v1.Resource)}.
const bodies = Array.from({ length: n }, (_, i) => toBinary(ResourceSchema, resource(`obj-${i}`, 1)));

const client = new grpc.Client(a.address!, grpc.credentials.createSsl(readFileSync(a.ca!)), {});
const md = new grpc.Metadata();
md.set("authorization", "bearer ");
const t0 = performance.now();
const cpu0 = process.cpuUsage();
let bytes = 0;
await new Promise<void>((resolve, reject) => {
  const call = client.makeClientStreamRequest<Uint8Array, unknown>(
    "/service.resource.v1.IntakeService/Delta",
    (u) => Buffer.from(u.buffer, u.byteOffset, u.byteLength),
    (b) => b,
    md,
    {},
    (err) => (err ? reject(err) : resolve()),
  );
  let i = 0;
  const ttl = create(DurationSchema, { seconds: 300n });
  const pump = () => {
    while (i < n) {
      const deltas = [];
      for (const end = Math.min(n, i + 100); i < end; i++) {
        const object = create(ObjectSchema, {
          type: create(TypeDescriptorSchema, { kind: "resource.v1.Resource", type: "k8s.io.api.core.v1.ConfigMap" }),
          object: create(AnySchema, { typeUrl: "type.googleapis.com/resource.v1.Resource", value: bodies[i]! }),
          ttl,
          deltaVersion: "0badc0de",
        });
        deltas.push(create(DeltaSchema, { op: DeltaOperation.CREATE, objects: [object] }));
      }
      const buf = toBinary(DeltaRequestSchema, create(DeltaRequestSchema, { deltas }));
      bytes += buf.length;
      if (!call.write(buf)) return void call.once("drain", pump);
    }
    call.end();
  };
  pump();
});
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(
  JSON.stringify({ ms, cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, rssBytes: process.memoryUsage().rss, bytes }) + "\n",
);
client.close();
