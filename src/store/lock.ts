// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The data directory's exclusive lock: one agent per store. flock(2) on <dir>/resource/store.lock
// through bun:ffi; the kernel releases it when the holder exits, however it exits.

import { dlopen, read } from "bun:ffi";
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { errorMessage } from "../util/errors.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;

interface Libc {
  symbols: { flock: (fd: number, op: number) => number; __errno_location: () => number };
}

let libc: Libc | undefined;

function load(): Libc {
  libc ??= dlopen("libc.so.6", {
    flock: { args: ["i32", "i32"], returns: "i32" },
    __errno_location: { args: [], returns: "ptr" },
  }) as unknown as Libc;
  return libc;
}

/** Another agent holds the data directory. */
export class StoreLockedError extends Error {
  constructor(
    readonly dataDirectory: string,
    readonly holderPid: number | undefined,
  ) {
    const holder = holderPid ? ` by pid ${holderPid}` : "";
    super(`data directory ${dataDirectory} is in use${holder} (another agent holds its lock); give each agent its own --data-directory`);
    this.name = "StoreLockedError";
  }
}

export interface DirectoryLock {
  /** Releases the lock. Idempotent. */
  release(): void;
}

function holderOf(lockFile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockFile, "utf8").trim(), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`reading lock file ${lockFile}: ${errorMessage(e)}`);
  }
}

/**
 * Takes the exclusive lock on `lockFile` (created 0600) and writes this pid into it, or throws
 * StoreLockedError naming `dataDirectory` and the holder's pid.
 */
export function lockDataDirectory(lockFile: string, dataDirectory: string): DirectoryLock {
  const fd = openSync(lockFile, "a+", 0o600);
  const l = load();
  if (l.symbols.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const errno = read.i32(l.symbols.__errno_location() as never, 0);
    closeSync(fd);
    if (errno === EWOULDBLOCK) throw new StoreLockedError(dataDirectory, holderOf(lockFile));
    throw new Error(`locking ${lockFile}: flock failed (errno ${errno})`);
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      closeSync(fd); // closing the only descriptor of the open file releases the flock
    },
  };
}
