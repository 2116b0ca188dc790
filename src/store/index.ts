// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The store's interface: what other concerns import. Re-exports only.

export { decodeResourceKey, encodeResourceKey, relationshipId } from "../graph/keys.ts";
export { type Channel, type Classifier, defaultClassifier } from "../graph/names.ts";
export { createStoreComponent } from "./component.ts";
export { matchesFilters, segmentPrefix } from "./filter.ts";
export { StoreLockedError } from "./lock.ts";
export { StoreNotWritableError, storePath } from "./open.ts";
export { lockPath, type OpenStoreOptions, openStore } from "./open-store.ts";
export type { RelationshipKeyQuery, RelationshipRow } from "./queries.ts";
export { DEFAULT_OUTBOX_MAX_BYTES, DEFAULT_OUTBOX_MAX_ENTRIES, SqliteStore } from "./sqlite-store.ts";
export * from "./types.ts";
export { RELATIONSHIP_KIND, RELATIONSHIP_TYPE_URL, RESOURCE_KIND, RESOURCE_TYPE_URL } from "./wire.ts";
