// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// openStore: the one way to get a store. Locks the data directory, opens (and checks) the database,
// proves it writable, and starts the background checkpointer.

import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Channel, Classifier } from "../graph/names.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../util/errors.ts";
import { Checkpointer } from "./checkpointer.ts";
import { type DirectoryLock, lockDataDirectory, StoreLockedError } from "./lock.ts";
import { closeDatabase, type IntegrityCheck, openDatabase, StoreNotWritableError, type Synchronous, storePath } from "./open.ts";
import { SqliteStore } from "./sqlite-store.ts";

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
  /**
   * Channels recorded in the outbox: the ones something uploads. Default: all. A channel left out
   * gets no outbox entries (its pending ones are dropped at open); its consumer, when one starts
   * later, resyncs from the tables as it does on every start.
   */
  outboxChannels?: readonly Channel[];
  /** WAL synchronous level. Default NORMAL. */
  synchronous?: Synchronous;
  /** Default 5000 ms. */
  busyTimeoutMs?: number;
  /** SQLite page cache, KiB. Default 16384. */
  cacheKiB?: number;
  /** Default "quick". */
  integrityCheck?: IntegrityCheck;
  /** Read-only (for `antimetal-agent store ...` while the agent runs): takes no lock. */
  readonly?: boolean;
  /**
   * "worker" (default): WAL checkpoints run in a Worker thread, off the event loop. "inline":
   * SQLite's autocheckpoint inside the committing call (blocks 10-100 ms every ~4 MiB written).
   */
  checkpoint?: "worker" | "inline";
  /** Clock in ms since epoch; tests only. */
  now?: () => number;
}

/** Lock file of a data directory's store, beside the database. */
export function lockPath(dataDirectory: string): string {
  return join(dirname(storePath(dataDirectory)), "store.lock");
}

/** Creates <dir>/resource (0700 whatever the umask) and takes its lock, or throws a clear error naming the directory. */
function lockStore(dataDirectory: string): DirectoryLock {
  const dir = dirname(storePath(dataDirectory));
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return lockDataDirectory(lockPath(dataDirectory), dataDirectory);
  } catch (e) {
    if (e instanceof StoreLockedError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EROFS" || code === "EACCES" || code === "EPERM") throw new StoreNotWritableError(dir, errorMessage(e));
    throw e;
  }
}

/**
 * Opens the store. A corrupt or foreign file is moved aside (logged) and a fresh store starts.
 * Throws, with the path in the message, for what a restart would not fix: another agent holding the
 * data directory (StoreLockedError), a store that cannot be written (StoreNotWritableError:
 * read-only mount, other owner, immutable file), a locked file past the busy timeout, a full disk.
 */
export function openStore(opts: OpenStoreOptions): SqliteStore {
  const logger = opts.logger.child({ component: "store" });
  const lock = opts.dataDirectory !== "" && !opts.readonly ? lockStore(opts.dataDirectory) : undefined;
  let checkpointer: Checkpointer | undefined;
  let opened: ReturnType<typeof openDatabase> | undefined;
  try {
    opened = openDatabase({ ...opts, logger });
    const { db, path } = opened;
    if (path !== ":memory:" && !opts.readonly && (opts.checkpoint ?? "worker") === "worker") {
      checkpointer = new Checkpointer(db, path, logger, { busyTimeoutMs: opts.busyTimeoutMs });
    }
    const store = new SqliteStore(db, { ...opts, logger, checkpointer, lock });
    logger.debug({ path }, "store open");
    return store;
  } catch (err) {
    checkpointer?.close();
    if (opened) closeDatabase(opened.db);
    lock?.release();
    throw err;
  }
}
