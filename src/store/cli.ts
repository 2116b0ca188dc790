// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// `antimetal-agent store ...`: reads a data directory's store read-only and prints it as JSON.

import { createRegistry, fromBinary, toJson, type JsonValue } from "@bufbuild/protobuf";
import { statSync } from "node:fs";
import { silentLogger } from "../log/logger.ts";
import { file_antimetal_hardware_v1_hardware } from "../proto/gen/antimetal/hardware/v1/hardware_pb.ts";
import { file_kubernetes_v1_cluster } from "../proto/gen/kubernetes/v1/cluster_pb.ts";
import { file_kubernetes_v1_relationships } from "../proto/gen/kubernetes/v1/relationships_pb.ts";
import { file_network_v1_relationships } from "../proto/gen/network/v1/relationships_pb.ts";
import { file_resource_v1_relationship, RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";
import { file_resource_v1_resource, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { errorMessage } from "../util/errors.ts";
import { openStore } from "./open-store.ts";
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

const USAGE = `usage: antimetal-agent store <command> [flags]
  resources [--type T]                                   resources whose type matches T (dot-segment prefix)
  relationships [--subject KEY] [--object KEY] [--predicate T]   relationships matching all given criteria
  stats                                                  counts, outbox depth/bytes per channel, file sizes
KEY is a resource key as printed by "store resources". Output is JSON. Reads <data-directory>/resource/store.db
read-only, so it works while the agent runs.`;

function parseFlags(args: string[], allowed: string[]): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--help" || a === "-h") return "help";
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m || !allowed.includes(m[1]!)) return `unknown argument: ${a}`;
    const v = m[2] ?? args[++i];
    if (v === undefined) return `--${m[1]} needs a value`;
    out[m[1]!] = v;
  }
  return out;
}

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
  /** What goes to stdout: the JSON, or the usage when asked for. Empty on error. */
  output: string;
  /** What goes to stderr: one line "store: <what went wrong>" (plus the usage for bad usage). Empty on success. */
  error: string;
  /** 0 ok, 1 no or unreadable store, 2 bad usage. */
  exitCode: number;
}

const failed = (message: string, exitCode: number, usage = false): StoreCommandResult => ({
  output: "",
  error: `store: ${message}\n${usage ? USAGE + "\n" : ""}`,
  exitCode,
});

/**
 * `antimetal-agent store resources|relationships|stats`. Returns what to print on stdout and on
 * stderr, and the exit code; the caller prints them.
 */
export async function runStoreCommand(argv: string[], opts: { dataDirectory: string }): Promise<StoreCommandResult> {
  const [cmd, ...rest] = argv;
  if (!cmd) return failed("missing command", 2, true);
  if (cmd === "--help" || cmd === "-h" || cmd === "help") return { output: USAGE + "\n", error: "", exitCode: 0 };
  const allowed: Record<string, string[]> = { resources: ["type"], relationships: ["subject", "object", "predicate"], stats: [] };
  const flags = allowed[cmd] ? parseFlags(rest, allowed[cmd]) : `unknown store command: ${cmd}`;
  if (flags === "help") return { output: USAGE + "\n", error: "", exitCode: 0 };
  if (typeof flags === "string") return failed(flags, 2, true);
  if (opts.dataDirectory === "") return failed("--data-directory is empty (in-memory store): nothing to read", 1);

  let store;
  try {
    store = openStore({ dataDirectory: opts.dataDirectory, logger: silentLogger, readonly: true });
  } catch (err) {
    return failed(errorMessage(err), 1);
  }
  try {
    let result: unknown;
    if (cmd === "resources") {
      const rows = store.resourceRows(flags.type ? [{ kind: "", type: flags.type }] : []);
      result = { count: rows.length, resources: rows.map(([key, , , body]) => ({ key, resource: anyTolerantJson(ResourceSchema, body) })) };
    } else if (cmd === "relationships") {
      const rows = store.relationshipRows({ subjectKey: flags.subject, objectKey: flags.object, predicate: flags.predicate });
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
