// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The store's read queries over its prepared statements, and the shapes of the rows they return.

import type { TypeDescriptor } from "../proto/gen/resource/v1/object_pb.ts";
import type { Relationship } from "../proto/gen/resource/v1/relationship_pb.ts";
import { matchesFilters } from "./filter.ts";
import { decodeRelationship, decodeRelationships } from "./relationship-decode.ts";
import type { TableStatements } from "./statements.ts";
import type { WireObject } from "./types.ts";
import { RELATIONSHIP_TYPE_URL, RESOURCE_TYPE_URL, wireObject } from "./wire.ts";

export type ResRow = [rid: number, createdAt: number, updatedAt: number, body: Uint8Array, type: string, channel: string];
export type RelRow = [
  rid: number,
  body: Uint8Array,
  kind: string,
  type: string,
  channel: string,
  id: Uint8Array,
  subject: number,
  object: number,
  predicateType: string,
];
export type ResourceRow = [key: string, kind: string, type: string, body: Uint8Array];
export type RelationshipRow = [body: Uint8Array, id: Uint8Array, subjectKey: string, objectKey: string, predicateType: string];

/** A relationship query by stored keys (what `store relationships` takes); undefined matches any. */
export interface RelationshipKeyQuery {
  subjectKey?: string;
  objectKey?: string;
  predicate?: string;
}

/** Runs the statement of `group` that matches the criteria given (the most selective index first); every row when none is. */
export function selectRelationships(group: TableStatements["relQuery"] | TableStatements["relBodies"], q: RelationshipKeyQuery): unknown[] {
  const { subjectKey: s, objectKey: o, predicate: p } = q;
  if (s !== undefined && o !== undefined && p !== undefined) return group.sop.values(s, p, o);
  if (s !== undefined && o !== undefined) return group.so.values(s, o);
  if (s !== undefined && p !== undefined) return group.sp.values(s, p);
  if (o !== undefined && p !== undefined) return group.op.values(o, p);
  if (s !== undefined) return group.s.values(s);
  if (o !== undefined) return group.o.values(o);
  if (p !== undefined) return group.p.values(p);
  return group.all.values();
}

/**
 * The relationships matching the criteria, decoded, in selectRelationships' orders. Queries by an
 * endpoint answer one row of [every body concatenated, their lengths] (statements.ts), by
 * predicate or none a row per body.
 */
export function decodedRelationships(group: TableStatements["relBodies"], q: RelationshipKeyQuery): Relationship[] {
  const rows = selectRelationships(group, q) as ([body: Uint8Array] | [bodies: Uint8Array | null, lengths: string | null])[];
  if (q.subjectKey === undefined && q.objectKey === undefined) return rows.map((r) => decodeRelationship(r[0]!));
  const [bodies, lengths] = rows[0] as [Uint8Array | null, string | null];
  return bodies === null || lengths === null ? [] : decodeRelationships(bodies, lengths);
}

/**
 * Resources matching the filters, in key order per filter (through the type index when every filter has a type);
 * with `containing`, only those whose stored body contains those bytes.
 */
export function selectResources(
  s: TableStatements,
  filters: ReadonlyArray<Pick<TypeDescriptor, "kind" | "type">>,
  containing?: Uint8Array,
): ResourceRow[] {
  if (filters.length === 0 || filters.some((f) => !f.type)) {
    const rows = (containing ? s.resAllContaining.values(containing) : s.resAll.values()) as ResourceRow[];
    return rows.filter((r) => matchesFilters(filters, r[1], r[2]));
  }
  const out: ResourceRow[] = [];
  const seen = new Set<string>();
  for (const f of filters) {
    const range = [f.type, f.type + ".", f.type + "/"] as const;
    const rows = containing ? s.resByTypeContaining.values(...range, containing) : s.resByType.values(...range);
    for (const r of rows as ResourceRow[]) {
      if (seen.has(r[0]) || !matchesFilters([f], r[1], r[2])) continue;
      seen.add(r[0]);
      out.push(r);
    }
  }
  return out;
}

/** Every resource, then every relationship, matching the filters (a subscriber's snapshot). */
export function snapshotObjects(s: TableStatements, filters: TypeDescriptor[]): WireObject[] {
  const snap: WireObject[] = [];
  for (const [, kind, type, body] of selectResources(s, filters)) snap.push(wireObject(kind, type, RESOURCE_TYPE_URL, body));
  if (filters.length > 0 && filters.every((f) => f.type)) {
    // matched by type in SQLite: a subscriber to a resource type (Pods, the SystemNode) gets no relationship,
    // and their bodies are not read (at 10k pods ~80k rows, ~20-30 MiB of garbage at once)
    for (const [, kind, type, body] of relationshipsByType(s, filters)) snap.push(wireObject(kind, type, RELATIONSHIP_TYPE_URL, body));
    return snap;
  }
  for (const { kind, type, body } of s.relAll.iterate() as IterableIterator<{ kind: string; type: string; body: Uint8Array }>) {
    if (matchesFilters(filters, kind, type)) snap.push(wireObject(kind, type, RELATIONSHIP_TYPE_URL, body));
  }
  return snap;
}

type RelTypeRow = [rid: number, kind: string, type: string, body: Uint8Array];

/** Relationships whose type matches one of the filters (each with a type), in rid order as relAll. */
function relationshipsByType(s: TableStatements, filters: ReadonlyArray<Pick<TypeDescriptor, "kind" | "type">>): RelTypeRow[] {
  const out: RelTypeRow[] = [];
  const seen = new Set<number>();
  for (const f of filters) {
    for (const r of s.relByType.values(f.type, f.type + ".", f.type + "/") as RelTypeRow[]) {
      if (seen.has(r[0]) || !matchesFilters([f], r[1], r[2])) continue;
      seen.add(r[0]);
      out.push(r);
    }
  }
  return filters.length > 1 ? out.sort((a, b) => a[0] - b[0]) : out;
}
