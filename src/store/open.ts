// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Opening the SQLite file: pragmas, integrity check, migration, a write probe, and moving a
// corrupt file aside so the agent never crash-loops on it.

import { Database } from "bun:sqlite";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../util/errors.ts";
import { migrate, SCHEMA_VERSION, SchemaTooNewError } from "./schema.ts";

export type Synchronous = "OFF" | "NORMAL" | "FULL";
export type IntegrityCheck = "quick" | "full" | "off";

export interface OpenDatabaseOptions {
  /** "" = in memory (as the original's empty --data-directory). Otherwise the file is <dir>/resource/store.db. */
  dataDirectory: string;
  logger: Logger;
  /** WAL synchronous level, set explicitly (Bun's build defaults WAL to FULL). Default NORMAL: a process crash loses nothing committed; an OS crash may lose the last transactions, never corrupts. */
  synchronous?: Synchronous;
  /** ms SQLite waits on a lock held by another connection (the CLI reading). Default 5000. */
  busyTimeoutMs?: number;
  /** On open. "quick" (default) = PRAGMA quick_check, O(file size) but no index cross-check. */
  integrityCheck?: IntegrityCheck;
  /** Open without writing: no migration, no check, no recovery (the `store` command). */
  readonly?: boolean;
  /** SQLite page cache in KiB (counts toward RSS). Default 16384: keeps the hot index pages of a 1M-object store cached. */
  cacheKiB?: number;
  /** Corrupt files kept beside the store, newest first. Default 2. */
  keepCorrupt?: number;
}

export function storePath(dataDirectory: string): string {
  return join(dataDirectory, "resource", "store.db");
}

export class CorruptStoreError extends Error {
  constructor(detail: string) {
    super(`store integrity check failed: ${detail}`);
    this.name = "CorruptStoreError";
  }
}

/** The store exists or would be created where this process cannot write (read-only mount, other owner, immutable file). */
export class StoreNotWritableError extends Error {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`cannot write the store at ${path}: ${detail}`);
    this.name = "StoreNotWritableError";
  }
}

/**
 * Proves the database, its WAL and its -shm writable with one real write (SQLite opens a file it
 * cannot write read-only without an error, and every later write would fail).
 */
function probeWritable(db: Database, file: string): void {
  try {
    db.run("INSERT INTO meta(k, v) VALUES ('opened_at', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v", [String(Date.now())]);
  } catch (e) {
    throw new StoreNotWritableError(file, errorMessage(e));
  }
}

/** SQLite's codes for a file it cannot write (as opposed to one that is corrupt). */
function isWriteDenied(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return (
    typeof code === "string" &&
    (code.startsWith("SQLITE_READONLY") ||
      code.startsWith("SQLITE_CANTOPEN") ||
      code.startsWith("SQLITE_PERM") ||
      code === "SQLITE_IOERR_WRITE")
  );
}

/** Errors that mean "this file cannot be used as our store" (as opposed to EACCES, EBUSY, disk full). */
function isUnusableFile(err: unknown): boolean {
  if (err instanceof CorruptStoreError || err instanceof SchemaTooNewError) return true;
  const code = (err as { code?: unknown })?.code;
  return code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB" || (typeof code === "string" && code.startsWith("SQLITE_CORRUPT"));
}

function configure(db: Database, opts: OpenDatabaseOptions, memory: boolean): void {
  db.run(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
  db.run(`PRAGMA cache_size = -${Math.max(64, Math.floor(opts.cacheKiB ?? 16384))}`);
  if (opts.readonly) return;
  if (!memory) {
    const mode = (db.query("PRAGMA journal_mode = WAL").get() as { journal_mode: string }).journal_mode;
    if (mode.toLowerCase() !== "wal") throw new Error(`cannot enable WAL (journal_mode=${mode})`);
    // The WAL file is truncated back to this size after checkpoints: bounded disk use.
    db.run("PRAGMA journal_size_limit = 67108864");
  }
  const sync = opts.synchronous ?? "NORMAL";
  if (!["OFF", "NORMAL", "FULL"].includes(sync)) throw new Error(`invalid synchronous ${sync}`);
  db.run(`PRAGMA synchronous = ${sync}`);
  db.run("PRAGMA temp_store = MEMORY");
}

function check(db: Database, mode: IntegrityCheck): void {
  if (mode === "off") return;
  const rows = db.query(mode === "full" ? "PRAGMA integrity_check(20)" : "PRAGMA quick_check(20)").values() as string[][];
  const msgs = rows.map((r) => String(r[0]));
  if (msgs.length !== 1 || msgs[0] !== "ok") throw new CorruptStoreError(msgs.slice(0, 5).join("; "));
}

/** Creates an empty store file 0600 (SQLite would create it 0644 less the umask; its -wal and -shm copy its mode). */
function createPrivate(file: string): void {
  try {
    closeSync(openSync(file, "wx", 0o600));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return;
    throw new StoreNotWritableError(file, errorMessage(e));
  }
}

function openFile(file: string, opts: OpenDatabaseOptions): Database {
  if (!opts.readonly) createPrivate(file);
  const db = new Database(file, opts.readonly ? { readonly: true, strict: true } : { create: true, readwrite: true, strict: true });
  try {
    configure(db, opts, false);
    if (opts.readonly) {
      const v = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
      if (v !== SCHEMA_VERSION) throw new Error(`store at ${file} has schema version ${v}, this agent reads ${SCHEMA_VERSION}`);
      return db;
    }
    check(db, opts.integrityCheck ?? "quick");
    migrate(db);
    probeWritable(db, file);
    return db;
  } catch (err) {
    closeDatabase(db);
    if (isWriteDenied(err)) throw new StoreNotWritableError(file, errorMessage(err));
    throw err;
  }
}

/**
 * Really closes: bun's db.close() leaves the connection (file handles, the mmapped -shm) open while
 * any prepared statement is alive; close(true) finalizes them first.
 */
export function closeDatabase(db: Database): void {
  try {
    db.close(true);
  } catch {
    // close(true) throws when a statement is still running; the plain close defers to its end
    db.close(false);
  }
}

/** Renames store.db (and its -wal/-shm) to store.db.corrupt-<time>[-wal|-shm]; keeps the newest `keep` sets. */
function moveAside(file: string, keep: number): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const target = `${file}.corrupt-${stamp}`;
  for (const suffix of ["", "-wal", "-shm"]) {
    if (existsSync(file + suffix)) renameSync(file + suffix, target + suffix);
  }
  const dir = join(file, "..");
  const base = file.slice(dir.length + 1);
  const sets = readdirSync(dir)
    .filter((n) => n.startsWith(`${base}.corrupt-`) && !n.endsWith("-wal") && !n.endsWith("-shm"))
    .sort()
    .reverse();
  for (const old of sets.slice(Math.max(0, keep))) {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(join(dir, old + suffix), { force: true });
  }
  return target;
}

export interface OpenedDatabase {
  db: Database;
  /** Path of store.db, or ":memory:". */
  path: string;
  /** Where a corrupt file was moved, if it was. */
  movedAside?: string;
}

/**
 * Opens (creating, migrating and checking) the store database. A file that is not a database,
 * fails the integrity check or has a newer schema is moved aside with an error log line and a fresh
 * store starts: the state is rebuilt from its sources, and the agent never crash-loops on a bad file.
 */
export function openDatabase(opts: OpenDatabaseOptions): OpenedDatabase {
  if (opts.dataDirectory === "") {
    if (opts.readonly) throw new Error("an in-memory store cannot be opened read-only");
    const db = new Database(":memory:", { strict: true });
    configure(db, opts, true);
    migrate(db);
    return { db, path: ":memory:" };
  }
  const file = storePath(opts.dataDirectory);
  if (opts.readonly) {
    if (!existsSync(file)) throw new Error(`no store at ${file}`);
    return { db: openFile(file, opts), path: file };
  }
  mkdirSync(join(file, ".."), { recursive: true, mode: 0o700 });
  try {
    return { db: openFile(file, opts), path: file };
  } catch (err) {
    if (!isUnusableFile(err)) throw err;
    const movedAside = moveAside(file, opts.keepCorrupt ?? 2);
    opts.logger.error(
      { err: errorMessage(err), path: file, movedTo: movedAside },
      "store file unusable; moved aside, starting a fresh store (state is rebuilt from sources)",
    );
    return { db: openFile(file, opts), path: file, movedAside };
  }
}
