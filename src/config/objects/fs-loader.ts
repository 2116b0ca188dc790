// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The fs config loader: config object files under one directory, watched (inotify through
// fs.watch, recursive) with a periodic full rescan as the safety net. Every change leads to one
// rescan of the directory, so bursts, renames and Kubernetes ConfigMap symlink swaps all end in
// the same state a fresh start would reach. A refused file keeps the last good object in force.
// The watch is set before the directory is read (at start and when the directory appears): a file
// another process writes while it is being read is then either in the listing or notified.

import { closeSync, type FSWatcher, fstatSync, openSync, readdirSync, readSync, statSync, watch } from "node:fs";
import { extname, join } from "node:path";
import type { Logger } from "../../log/logger.ts";
import { meterBound } from "../../metrics/registry.ts";
import { errorMessage } from "../../util/errors.ts";
import { configObjectErrors, configObjects } from "./metrics.ts";
import { type CollectorStatus, type ConfigInstance, decodeObjectText, parseObject, versionProblem } from "./parse.ts";
import { type ConfigObjectSource, objectKey, objectView, sameActive } from "./source.ts";

/** At most this many config files are read; more are reported and ignored. */
export const MAX_CONFIG_OBJECT_FILES = 1000;
/** A config object file over this size is refused unread. */
export const MAX_CONFIG_OBJECT_BYTES = 1 << 20;
const MAX_DEPTH = 8;
/** Quiet time after the last change notification before the directory is read (a burst costs one read). */
const SETTLE_MS = 50;
const CONFIG_EXTENSIONS = new Set([".json", ".yaml", ".yml"]);

export interface FsLoaderOptions {
  directory: string;
  rescanIntervalMs: number;
  collectorStatus: CollectorStatus;
  logger: Logger;
}

interface FileState {
  /** mtime, size, inode and ctime: a change of any means the file is read again. */
  stamp: string;
  instance: ConfigInstance;
}

export class FsConfigLoader implements ConfigObjectSource {
  readonly name = "config-loader";
  readonly loader = "fs" as const;
  readonly required = false;
  private files = new Map<string, FileState>();
  private inForce = new Map<string, ConfigInstance>();
  /** Files whose current content is refused, with the reason (for /config and the log-once rule). */
  private refused = new Map<string, ConfigInstance>();
  private listeners: Array<() => void> = [];
  private watcher: FSWatcher | undefined;
  private rescanTimer: ReturnType<typeof setInterval> | undefined;
  private settleTimer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private scans = 0;
  private lastScanError: string | undefined;
  private readonly log: Logger;
  private readonly fileMeter = meterBound("config_object_files", MAX_CONFIG_OBJECT_FILES);

  constructor(private readonly opts: FsLoaderOptions) {
    this.log = opts.logger;
  }

  async start(): Promise<void> {
    this.running = true;
    this.scan();
    this.rescanTimer = setInterval(() => this.scan(), this.opts.rescanIntervalMs);
    this.log.info({ directory: this.opts.directory, objects: this.inForce.size, refused: this.refused.size }, "config objects loaded");
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.rescanTimer);
    clearTimeout(this.settleTimer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  isReady(): boolean {
    return this.running;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  active(): ConfigInstance[] {
    return [...this.inForce.values()];
  }

  view() {
    const objects = [...this.inForce.values(), ...this.refused.values()].map(objectView);
    return {
      loader: "fs",
      state: {
        directory: this.opts.directory,
        watching: this.watcher !== undefined,
        files: this.files.size,
        scans: this.scans,
        ...(this.lastScanError ? { error: this.lastScanError } : {}),
      },
      objects,
    };
  }

  /** inotify through fs.watch; when the directory does not exist yet, the rescan retries this. */
  private ensureWatcher(): void {
    if (this.watcher || !this.running) return;
    try {
      this.watcher = watch(this.opts.directory, { recursive: true }, () => this.changed());
      this.watcher.on("error", (e) => {
        this.log.warn(
          { directory: this.opts.directory, err: errorMessage(e) },
          "config directory watch failed; the periodic rescan continues",
        );
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (e) {
      this.log.debug({ directory: this.opts.directory, err: errorMessage(e) }, "config directory not watched yet");
    }
  }

  private changed(): void {
    if (!this.running) return;
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => this.scan(), SETTLE_MS);
  }

  /** Watches the directory (if not yet), reads it, re-reads changed files, and recomputes the objects in force. Never throws. */
  scan(): void {
    if (!this.running) return;
    this.scans++;
    // Watch first: a change made after the listing below would otherwise go unnoticed until the next rescan.
    this.ensureWatcher();
    const paths = this.listConfigFiles();
    const next = new Map<string, FileState>();
    for (const path of paths) {
      const stamp = this.stampOf(path);
      if (stamp === undefined) continue; // removed between the listing and the stat
      const prev = this.files.get(path);
      next.set(path, prev && prev.stamp === stamp ? prev : { stamp, instance: this.readFile(path) });
    }
    this.files = next;
    this.fileMeter.depth(next.size);
    this.recompute();
  }

  private listConfigFiles(): string[] {
    const out: string[] = [];
    const walk = (dir: string, depth: number) => {
      let entries: string[];
      try {
        entries = readdirSync(dir).sort();
      } catch (e) {
        if (dir !== this.opts.directory) return;
        this.noteScanError(`cannot read ${dir}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`);
        // The directory went away: its watch is dead; a new one is set once it is back.
        this.watcher?.close();
        this.watcher = undefined;
        return;
      }
      if (dir === this.opts.directory) this.noteScanError(undefined);
      for (const name of entries) {
        // Kubernetes' atomic writer keeps the real files in ..<timestamp> and ..data; the visible names link into them.
        if (name.startsWith("..")) continue;
        const path = join(dir, name);
        let isDir = false;
        try {
          isDir = statSync(path).isDirectory();
        } catch (e) {
          this.log.debug({ path, err: errorMessage(e) }, "config path vanished or is a dangling link");
          continue;
        }
        if (isDir) {
          if (depth < MAX_DEPTH) walk(path, depth + 1);
          continue;
        }
        if (!CONFIG_EXTENSIONS.has(extname(name).toLowerCase())) continue;
        if (out.length >= MAX_CONFIG_OBJECT_FILES) {
          this.fileMeter.dropped("full");
          continue;
        }
        out.push(path);
      }
    };
    walk(this.opts.directory, 0);
    return out;
  }

  private noteScanError(error: string | undefined): void {
    if (error !== undefined && error !== this.lastScanError)
      this.log.info({ directory: this.opts.directory, err: error }, "config directory not readable; no config objects from it");
    this.lastScanError = error;
  }

  private stampOf(path: string): string | undefined {
    try {
      const s = statSync(path);
      return `${s.mtimeMs}:${s.ctimeMs}:${s.size}:${s.ino}`;
    } catch (e) {
      this.log.debug({ path, err: errorMessage(e) }, "config file vanished before it was read");
      return undefined;
    }
  }

  private readFile(path: string): ConfigInstance {
    let text: string;
    try {
      text = readBounded(path);
    } catch (e) {
      return { typeUrl: "", name: "", version: "", status: "invalid", error: errorMessage(e), ttlMs: 0, source: path };
    }
    try {
      const format = extname(path).toLowerCase() === ".json" ? "json" : "yaml";
      return parseObject(decodeObjectText(text, format), path, this.opts.collectorStatus);
    } catch (e) {
      return { typeUrl: "", name: "", version: "", status: "invalid", error: errorMessage(e), ttlMs: 0, source: path };
    }
  }

  /**
   * The objects in force from the files' current results: per type and name the first valid file
   * (by path) wins; a refused file, an older version or a duplicate keeps the last good object of
   * that file in force while the file exists.
   */
  private recompute(): void {
    const before = [...this.inForce.values()];
    const lastGoodByPath = new Map(before.map((i) => [i.source, i]));
    const next = new Map<string, ConfigInstance>();
    const refused = new Map<string, ConfigInstance>();
    for (const [path, { instance }] of this.files) {
      let candidate = instance;
      const key = objectKey(candidate);
      const lastGood = lastGoodByPath.get(path);
      if (candidate.status === "ok") {
        const holder = next.get(key);
        const reason = holder
          ? `config ${candidate.name} of type ${candidate.typeUrl} is already defined by ${holder.source}`
          : lastGood && objectKey(lastGood) === key && candidate.version !== "" && lastGood.version !== ""
            ? versionProblem(candidate.version, lastGood.version)
            : undefined;
        if (reason) candidate = { ...candidate, status: "invalid", error: reason, config: undefined };
      }
      if (candidate.status === "ok") {
        next.set(key, candidate);
        continue;
      }
      refused.set(path, candidate);
      if (lastGood && !next.has(objectKey(lastGood))) next.set(objectKey(lastGood), lastGood);
    }
    for (const [path, r] of refused) {
      if (this.refused.get(path)?.error === r.error) continue;
      configObjectErrors.inc({ loader: "fs" });
      this.log.warn(
        { file: path, type: r.typeUrl || undefined, name: r.name || undefined, err: r.error },
        "config object refused; the last good config stays in force",
      );
    }
    this.inForce = next;
    this.refused = refused;
    configObjects.set({ loader: "fs", status: "ok" }, next.size);
    configObjects.set({ loader: "fs", status: "invalid" }, refused.size);
    if (sameActive(before, [...next.values()])) return;
    for (const l of this.listeners) l();
  }
}

/** Reads at most MAX_CONFIG_OBJECT_BYTES; a larger file is refused from its size. */
function readBounded(path: string): string {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_CONFIG_OBJECT_BYTES) throw new Error(`config file is ${size} bytes, over the 1 MiB limit`);
    const buf = Buffer.alloc(MAX_CONFIG_OBJECT_BYTES + 1);
    let length = 0;
    while (length < buf.length) {
      const n = readSync(fd, buf, length, buf.length - length, null);
      if (n <= 0) break;
      length += n;
    }
    if (length > MAX_CONFIG_OBJECT_BYTES) throw new Error(`config file is over the 1 MiB limit`);
    return buf.toString("utf8", 0, length);
  } finally {
    closeSync(fd);
  }
}
