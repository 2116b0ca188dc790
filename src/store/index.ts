// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import type { Logger } from "../log/logger.ts";
import { closeDatabase, openDatabase, type IntegrityCheck, type Synchronous } from "./open.ts";
import { Checkpointer } from "./checkpointer.ts";
import { SqliteStore, type Classifier } from "./sqlite-store.ts";

export * from "./types.ts";
export { decodeResourceKey, encodeResourceKey, relationshipId } from "./keys.ts";
export { matchesFilters, segmentPrefix } from "./filter.ts";
export { defaultClassifier, DEFAULT_OUTBOX_MAX_BYTES, DEFAULT_OUTBOX_MAX_ENTRIES, SqliteStore, type Classifier } from "./sqlite-store.ts";
export { storePath } from "./open.ts";
export { RELATIONSHIP_KIND, RELATIONSHIP_TYPE_URL, RESOURCE_KIND, RESOURCE_TYPE_URL } from "./wire.ts";
export { createStoreComponent } from "./component.ts";
export { runStoreCommand, type StoreQuery } from "./cli.ts";

export interface OpenStoreOptions {
  /** --data-directory. "" = in memory. Otherwise the file is <dir>/resource/store.db. */
  dataDirectory: string;
  logger: Logger;
  /** Object type -> outbox channel. Default: "antimetal.*" -> "instance", the rest -> "cluster". */
  classify?: Classifier;
  /** Per-channel outbox byte cap. Default 256 MiB. */
  outboxMaxBytes?: number;
  /** Per-channel outbox entry cap. Default 4M. */
  outboxMaxEntries?: number;
  /** WAL synchronous level. Default NORMAL. */
  synchronous?: Synchronous;
  /** Default 5000 ms. */
  busyTimeoutMs?: number;
  /** SQLite page cache, KiB. Default 16384. */
  cacheKiB?: number;
  /** Default "quick". */
  integrityCheck?: IntegrityCheck;
  /** Read-only (for `antimetal-agent store ...` while the agent runs). */
  readonly?: boolean;
  /**
   * "worker" (default): WAL checkpoints run in a Worker thread, off the event loop. "inline":
   * SQLite's autocheckpoint inside the committing call (blocks 10-100 ms every ~4 MiB written).
   */
  checkpoint?: "worker" | "inline";
  /** Clock in ms since epoch; tests only. */
  now?: () => number;
}

/**
 * Opens the store. A corrupt or foreign file is moved aside (logged) and a fresh store starts.
 * Throws only for errors a restart would not fix either way (permissions, a locked file past the
 * busy timeout, disk full).
 */
export function openStore(opts: OpenStoreOptions): SqliteStore {
  const logger = opts.logger.child({ component: "store" });
  const { db, path } = openDatabase({ ...opts, logger });
  let checkpointer: Checkpointer | undefined;
  try {
    if (path !== ":memory:" && !opts.readonly && (opts.checkpoint ?? "worker") === "worker") {
      checkpointer = new Checkpointer(db, path, logger, { busyTimeoutMs: opts.busyTimeoutMs });
    }
    const store = new SqliteStore(db, { ...opts, logger, checkpointer });
    logger.debug({ path }, "store open");
    return store;
  } catch (err) {
    checkpointer?.close();
    closeDatabase(db);
    throw err;
  }
}
