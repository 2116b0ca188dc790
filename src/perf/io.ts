// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import * as fsp from "node:fs/promises";
import type { Dirent } from "node:fs";

/** Error codes that mean "not there / not allowed", which optional reads turn into undefined. */
const SOFT_CODES = new Set(["ENOENT", "ENOTDIR", "EACCES", "EPERM", "EISDIR", "EINVAL", "ENODEV", "ENXIO", "EOPNOTSUPP", "EIO"]);

export function errCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

/** Rejects as soon as `signal` aborts, even if `p` never settles (a hung mount, a stuck sysfs read). */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function abortError(signal: AbortSignal): Error {
  const r = signal.reason;
  if (r instanceof Error) return r;
  return new Error(typeof r === "string" ? r : "aborted");
}

/** Counting semaphore bounding concurrent reads (sysfs: see node_exporter #2500, #1880). */
export class Semaphore {
  private waiting: (() => void)[] = [];
  private held = 0;
  constructor(readonly limit: number) {}
  async acquire(): Promise<void> {
    if (this.held < this.limit) {
      this.held++;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held--;
  }
}

/**
 * File access for collectors: async reads raced against the collection's AbortSignal, and at most
 * `sysConcurrency` reads under /sys in flight at once for the whole process.
 */
export class HostIo {
  private readonly sysSem: Semaphore;
  constructor(
    readonly sysRoot: string,
    sysConcurrency = 4,
  ) {
    this.sysSem = new Semaphore(Math.max(1, sysConcurrency));
  }

  /** Reads a file; errors (ENOENT, EACCES, abort) propagate. */
  async read(path: string, signal?: AbortSignal): Promise<string> {
    const bounded = path.startsWith(this.sysRoot + "/");
    if (bounded) await this.sysSem.acquire();
    try {
      return await raceAbort(fsp.readFile(path, "utf8"), signal);
    } finally {
      if (bounded) this.sysSem.release();
    }
  }

  /** Reads a file; undefined when it is missing or not readable (optional files). Aborts still throw. */
  async readOptional(path: string, signal?: AbortSignal): Promise<string | undefined> {
    try {
      return await this.read(path, signal);
    } catch (e) {
      if (SOFT_CODES.has(errCode(e) ?? "")) return undefined;
      throw e;
    }
  }

  async list(path: string, signal?: AbortSignal): Promise<Dirent[]> {
    return raceAbort(fsp.readdir(path, { withFileTypes: true }), signal);
  }

  async listOptional(path: string, signal?: AbortSignal): Promise<Dirent[]> {
    try {
      return await this.list(path, signal);
    } catch (e) {
      if (SOFT_CODES.has(errCode(e) ?? "")) return [];
      throw e;
    }
  }

  async exists(path: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await raceAbort(fsp.stat(path), signal);
      return true;
    } catch (e) {
      if (signal?.aborted) throw e;
      return false;
    }
  }

  async isDir(path: string, signal?: AbortSignal): Promise<boolean> {
    try {
      return (await raceAbort(fsp.stat(path), signal)).isDirectory();
    } catch (e) {
      if (signal?.aborted) throw e;
      return false;
    }
  }

  async readlink(path: string, signal?: AbortSignal): Promise<string | undefined> {
    try {
      return await raceAbort(fsp.readlink(path), signal);
    } catch (e) {
      if (signal?.aborted) throw e;
      return undefined;
    }
  }
}
