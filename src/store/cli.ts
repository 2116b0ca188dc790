// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// `antimetal-agent store ...`: reads a data directory's store read-only and prints it as JSON.

import { statSync } from "node:fs";
import { createRegistry, fromBinary, type JsonValue, toJson } from "@bufbuild/protobuf";
import { silentLogger } from "../log/logger.ts";
import { file_antimetal_hardware_v1_hardware } from "../proto/gen/antimetal/hardware/v1/hardware_pb.ts";
import { file_antimetal_runtime_v1_container } from "../proto/gen/antimetal/runtime/v1/container_pb.ts";
import { file_antimetal_runtime_v1_process } from "../proto/gen/antimetal/runtime/v1/process_pb.ts";
import { file_antimetal_runtime_v1_relationships } from "../proto/gen/antimetal/runtime/v1/relationships_pb.ts";
import { file_kubernetes_v1_cluster } from "../proto/gen/kubernetes/v1/cluster_pb.ts";
import { file_kubernetes_v1_relationships } from "../proto/gen/kubernetes/v1/relationships_pb.ts";
import { file_network_v1_relationships } from "../proto/gen/network/v1/relationships_pb.ts";
import { file_resource_v1_relationship, RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";
import { file_resource_v1_resource, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { errorMessage } from "../util/errors.ts";
import { storePath } from "./open.ts";
import { openStore } from "./open-store.ts";
import { SCHEMA_VERSION } from "./schema.ts";

const registry = createRegistry(
  file_resource_v1_resource,
  file_resource_v1_relationship,
  file_kubernetes_v1_cluster,
  file_kubernetes_v1_relationships,
  file_network_v1_relationships,
  file_antimetal_hardware_v1_hardware,
  file_antimetal_runtime_v1_container,
  file_antimetal_runtime_v1_process,
  file_antimetal_runtime_v1_relationships,
);

/** Protobuf JSON; an Any whose type this build does not know prints as {"@type", "valueBase64"}. */
function anyTolerantJson(schema: typeof ResourceSchema | typeof RelationshipSchema, bytes: Uint8Array): JsonValue {
  const msg = fromBinary(schema as typeof ResourceSchema, bytes) as unknown as Record<string, unknown>;
  try {
    return toJson(schema as typeof ResourceSchema, msg as never, { registry });
  } catch {
    // an Any whose type this build does not know: print it as type URL + base64
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
  | { command: "resources" /** dot-segment type prefix */; type?: string }
  | { command: "relationships"; subject?: string; object?: string; predicate?: string }
  | { command: "stats" };

/** Size of a file, 0 when it does not exist (no -wal after a clean stop). */
function fileSize(p: string): number {
  try {
    return statSync(p).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw new Error(`reading the size of ${p}: ${errorMessage(e)}`);
  }
}

export interface StoreCommandResult {
  /** What goes to stdout: the JSON. Empty on error. */
  output: string;
  /** What goes to stderr: one line "store: <what went wrong>". Empty on success. */
  error: string;
  /** 0 ok, 1 no or unreadable store (bad usage exits 2 in the CLI parser, before this runs). */
  exitCode: number;
}

const failed = (message: string, exitCode: number): StoreCommandResult => ({ output: "", error: `store: ${message}\n`, exitCode });

/**
/**
 * `antimetal-agent store resources|relationships|stats`, already parsed into a query. Returns what
 * to print on stdout and on stderr, and the exit code; the caller prints them.
 */
export async function runStoreCommand(query: StoreQuery, opts: { dataDirectory: string }): Promise<StoreCommandResult> {
  if (opts.dataDirectory === "") return failed("--data-directory is empty (in-memory store): nothing to read", 1);

  let store: ReturnType<typeof openStore>;
  try {
    store = openStore({ dataDirectory: opts.dataDirectory, logger: silentLogger, readonly: true });
  } catch (err) {
    return failed(errorMessage(err), 1);
  }
  try {
    let result: unknown;
    if (query.command === "resources") {
      const rows = store.resourceRows(query.type ? [{ kind: "", type: query.type }] : []);
      result = { count: rows.length, resources: rows.map(([key, , , body]) => ({ key, resource: anyTolerantJson(ResourceSchema, body) })) };
    } else if (query.command === "relationships") {
      const rows = store.relationshipRows({ subjectKey: query.subject, objectKey: query.object, predicate: query.predicate });
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
    return { output: JSON.stringify(result, null, 2) + "\n", error: "", exitCode: 0 };
  } catch (err) {
    return failed(errorMessage(err), 1);
  } finally {
    store.close();
  }
}
