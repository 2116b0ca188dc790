// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import { createRegistry, fromBinary, toJson, type JsonValue } from "@bufbuild/protobuf";
import { statSync } from "node:fs";
import { silentLogger } from "../log/logger.ts";
import { file_antimetal_hardware_v1_hardware } from "../proto/gen/antimetal/hardware/v1/hardware_pb.ts";
import { file_kubernetes_v1_cluster } from "../proto/gen/kubernetes/v1/cluster_pb.ts";
import { file_kubernetes_v1_relationships } from "../proto/gen/kubernetes/v1/relationships_pb.ts";
import { file_network_v1_relationships } from "../proto/gen/network/v1/relationships_pb.ts";
import { file_resource_v1_relationship, RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";
import { file_resource_v1_resource, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { openStore } from "./index.ts";
import { storePath } from "./open.ts";
import { SCHEMA_VERSION } from "./schema.ts";

const registry = createRegistry(
  file_resource_v1_resource,
  file_resource_v1_relationship,
  file_kubernetes_v1_cluster,
  file_kubernetes_v1_relationships,
  file_network_v1_relationships,
  file_antimetal_hardware_v1_hardware,
);

/** Protobuf JSON; an Any whose type this build does not know prints as {"@type", "valueBase64"}. */
function anyTolerantJson(schema: typeof ResourceSchema | typeof RelationshipSchema, bytes: Uint8Array): JsonValue {
  const msg = fromBinary(schema as typeof ResourceSchema, bytes) as unknown as Record<string, unknown>;
  try {
    return toJson(schema as typeof ResourceSchema, msg as never, { registry });
  } catch {
    const field = schema === ResourceSchema ? "spec" : "predicate";
    const any = msg[field] as { typeUrl: string; value: Uint8Array } | undefined;
    msg[field] = undefined;
    const json = toJson(schema as typeof ResourceSchema, msg as never, { registry }) as Record<string, JsonValue>;
    if (any) json[field] = { "@type": any.typeUrl, valueBase64: Buffer.from(any.value).toString("base64") };
    return json;
  }
}

/** What `antimetal-agent store` prints; the CLI parses its flags into this (src/cli/store.ts). */
export type StoreQuery =
  | { command: "resources"; /** dot-segment type prefix */ type?: string }
  | { command: "relationships"; subject?: string; object?: string; predicate?: string }
  | { command: "stats" };

function fileSize(p: string): number {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
}

/**
 * `antimetal-agent store resources|relationships|stats`, already parsed. Returns the text to print
 * on stdout and the exit code (0 ok, 1 no/unreadable store; errors are one line in `output`).
 */
export async function runStoreCommand(query: StoreQuery, opts: { dataDirectory: string }): Promise<{ output: string; exitCode: number }> {
  if (opts.dataDirectory === "") return { output: "store: --data-directory is empty (in-memory store): nothing to read\n", exitCode: 1 };

  let store;
  try {
    store = openStore({ dataDirectory: opts.dataDirectory, logger: silentLogger, readonly: true });
  } catch (err) {
    return { output: `store: ${(err as Error).message}\n`, exitCode: 1 };
  }
  try {
    let result: unknown;
    if (query.command === "resources") {
      const rows = store.resourceRows(query.type ? [{ kind: "", type: query.type }] : []);
      result = { count: rows.length, resources: rows.map(([key, , , body]) => ({ key, resource: anyTolerantJson(ResourceSchema, body) })) };
    } else if (query.command === "relationships") {
      const rows = store.relationshipBodies(query.subject, query.object, query.predicate);
      result = {
        count: rows.length,
        relationships: rows.map(([body, id, subject, object, predicate]) => ({
          id: Buffer.from(id).toString("hex"),
          subject,
          object,
          predicate,
          relationship: anyTolerantJson(RelationshipSchema, body),
        })),
      };
    } else {
      const path = storePath(opts.dataDirectory);
      const outbox: Record<string, unknown> = {};
      for (const ch of store.outbox.channels()) outbox[ch] = { ...store.outbox.stats(ch), needsResync: store.outbox.needsResync(ch) };
      result = {
        path,
        schemaVersion: SCHEMA_VERSION,
        ...store.counts(),
        outbox,
        fileBytes: { db: fileSize(path), wal: fileSize(`${path}-wal`) },
      };
    }
    return { output: JSON.stringify(result, null, 2) + "\n", exitCode: 0 };
  } catch (err) {
    return { output: `store: ${(err as Error).message}\n`, exitCode: 1 };
  } finally {
    store.close();
  }
}
