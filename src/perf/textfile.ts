// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The textfile collector: serves the metrics of *.prom files in --textfile-directory (node_exporter's
// textfile collector: cron jobs and scripts write them), with node_textfile_mtime_seconds{file} and
// node_textfile_scrape_error. The directory is read every interval, bounded in files and bytes.

import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { Logger } from "../log/logger.ts";
import { meterBound } from "../metrics/registry.ts";
import type { ExpositionSource } from "../metrics/scrape-cache.ts";
import type { Component } from "../runtime/component.ts";
import { errorMessage } from "../util/errors.ts";
import { type PromFamily, parsePromText, renderPromText } from "./parsers/prom-text.ts";

/** *.prom files read per pass; the rest are left out, counted and make node_textfile_scrape_error 1. */
export const TEXTFILE_MAX_FILES = 100;
/** Bytes read per pass over all files; a file that would exceed it is left out the same way. */
export const TEXTFILE_MAX_BYTES = 8 * 1024 * 1024;

export interface TextfileOptions {
  directory: string;
  /** How often the directory is read again (the collectors' interval under `run`). */
  intervalMs: number;
  logger?: Logger;
  maxFiles?: number;
  maxBytes?: number;
}

/** What one pass over the directory gives: the text to serve and the error of each file left out. */
export interface TextfilePass {
  text: string;
  errors: Map<string, string>;
}

/**
 * Reads the directory once. A file that cannot be read or parsed, holds client-side timestamps, clashes
 * with a family of an earlier file, or exceeds the bounds is left out whole and sets node_textfile_scrape_error.
 */
export async function readTextfiles(
  directory: string,
  maxFiles = TEXTFILE_MAX_FILES,
  maxBytes = TEXTFILE_MAX_BYTES,
): Promise<TextfilePass> {
  const errors = new Map<string, string>();
  const filesMeter = meterBound("textfile_files", maxFiles);
  const bytesMeter = meterBound("textfile_bytes", maxBytes);
  let names: string[] = [];
  try {
    names = (await fs.readdir(directory)).filter((n) => n.endsWith(".prom")).sort();
  } catch (e) {
    errors.set(directory, `failed to read textfile collector directory ${directory}: ${errorMessage(e)}`);
  }
  if (names.length > maxFiles) {
    for (const n of names.slice(maxFiles)) errors.set(path.join(directory, n), `more than ${maxFiles} *.prom files: left out`);
    filesMeter.dropped("too_many_files", names.length - maxFiles);
    names = names.slice(0, maxFiles);
  }
  const families = new Map<string, PromFamily>();
  const series = new Set<string>();
  const mtimes: PromFamily = {
    name: "node_textfile_mtime_seconds",
    help: "Unixtime mtime of textfiles successfully read.",
    type: "gauge",
    samples: [],
  };
  let bytes = 0;
  let files = 0;
  for (const name of names) {
    const file = path.join(directory, name);
    try {
      const st = await fs.stat(file);
      if (!st.isFile()) throw new Error("not a regular file");
      if (bytes + st.size > maxBytes) {
        bytesMeter.dropped("too_large");
        throw new Error(`reading its ${st.size} bytes would exceed the ${maxBytes}-byte bound of one pass`);
      }
      const text = await fs.readFile(file, "utf8");
      bytes += Buffer.byteLength(text);
      files++;
      const parsed = parsePromText(text);
      if (parsed.some((f) => f.samples.some((s) => s.timestampMs !== undefined)))
        throw new Error("contains unsupported client-side timestamps, skipping entire file");
      mergeFile(file, parsed, families, series);
      mtimes.samples.push({ name: mtimes.name, labels: [["file", file]], value: Math.floor(st.mtimeMs / 1000) });
    } catch (e) {
      errors.set(file, `failed to parse textfile data from "${file}": ${errorMessage(e)}`);
    }
  }
  filesMeter.depth(files);
  bytesMeter.depth(bytes);
  const scrapeError: PromFamily = {
    name: "node_textfile_scrape_error",
    help: "1 if there was an error opening or reading a file, 0 otherwise",
    type: "gauge",
    samples: [{ name: "node_textfile_scrape_error", labels: [], value: errors.size > 0 ? 1 : 0 }],
  };
  const out = [...families.values()];
  if (mtimes.samples.length) out.push(mtimes);
  out.push(scrapeError);
  return { text: renderPromText(out), errors };
}

/** Adds a file's families, all or nothing: a clash of TYPE or HELP, or a series an earlier file has, rejects the file. */
function mergeFile(file: string, parsed: PromFamily[], families: Map<string, PromFamily>, series: Set<string>): void {
  const keys: string[] = [];
  for (const f of parsed) {
    f.help ??= `Metric read from ${file}`;
    const have = families.get(f.name);
    if (have && (have.type ?? "untyped") !== (f.type ?? "untyped"))
      throw new Error(`metric family ${f.name} has TYPE ${f.type ?? "untyped"} here and ${have.type ?? "untyped"} in an earlier file`);
    for (const s of f.samples) {
      const key = `${s.name}\u0000${s.labels
        .map(([k, v]) => `${k}=${v}`)
        .sort()
        .join("\u0000")}`;
      if (series.has(key)) throw new Error(`series ${s.name} is also in an earlier file`);
      keys.push(key);
    }
  }
  for (const k of keys) series.add(k);
  for (const f of parsed) {
    const have = families.get(f.name);
    if (have) have.samples.push(...f.samples);
    else families.set(f.name, { ...f, samples: [...f.samples] });
  }
}

/** The textfile collector under `run`: an exposition source re-read every interval, logging each file's new error once. */
export class TextfileCollector implements ExpositionSource, Component {
  readonly name = "textfile";
  readonly required = false;
  private text = "";
  private changes = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private running: Promise<void> | undefined;
  private started = false;
  private readonly logged = new Map<string, string>();

  constructor(private readonly opts: TextfileOptions) {}

  get version(): number {
    return this.changes;
  }

  render(): Promise<string> {
    return Promise.resolve(this.text);
  }

  /** One pass now (a pass already running is awaited instead). */
  refresh(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<void> {
    const { text, errors } = await readTextfiles(this.opts.directory, this.opts.maxFiles, this.opts.maxBytes);
    for (const [file, err] of errors) {
      if (this.logged.get(file) !== err)
        this.opts.logger?.warn({ file, err }, "textfile left out; node_textfile_scrape_error is 1 while it fails");
      this.logged.set(file, err);
    }
    for (const file of [...this.logged.keys()]) if (!errors.has(file)) this.logged.delete(file);
    if (text === this.text) return;
    this.text = text;
    this.changes++;
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.refresh().catch((e) => this.opts.logger?.warn({ err: errorMessage(e) }, "textfile pass failed"));
    }, this.opts.intervalMs);
    this.timer.unref();
    this.started = true;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  isReady(): boolean {
    return this.started;
  }
}
