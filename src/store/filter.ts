// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Type filters of subscriptions and lists: dot-segment prefix matching of kind and type descriptors
// (kind-only filters work, unlike the original).

import type { TypeDescriptor } from "../proto/gen/resource/v1/object_pb.ts";

/** Dot-segment prefix: "a.b" matches "a.b", "a.b.C", "a.b.c.D"; not "a.bc". Empty pattern matches all. */
export function segmentPrefix(pattern: string, value: string): boolean {
  if (pattern === "") return true;
  if (!value.startsWith(pattern)) return false;
  return value.length === pattern.length || value.charCodeAt(pattern.length) === 46; /* '.' */
}

/**
 * Subscription/list filter. A descriptor matches an object type when its non-empty kind matches
 * the object's kind and its non-empty type matches the object's type (dot-segment prefix). A list
 * matches when any descriptor does; an empty list matches everything. An object without a type
 * matches only an empty list. (The original ignored kind-only filters: nothing ever matched.)
 */
export function matchesFilters(
  filters: ReadonlyArray<Pick<TypeDescriptor, "kind" | "type">>,
  kind: string | undefined,
  type: string | undefined,
): boolean {
  if (filters.length === 0) return true;
  if (kind === undefined && type === undefined) return false;
  for (const f of filters) {
    if (segmentPrefix(f.kind ?? "", kind ?? "") && segmentPrefix(f.type ?? "", type ?? "")) return true;
  }
  return false;
}
