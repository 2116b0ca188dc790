// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Reload of `run`'s configuration without a restart: on SIGHUP and when the --config file changes,
// the options are resolved again (same argv and environment as at start, the file read anew). Live
// options apply at once; the others are reported as needing a restart. One log line per reload.

import { createHash } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { basename, dirname } from "node:path";
import { formatDuration } from "../config/duration.ts";
import { ConfigError, type Loaded, loadConfig, readBoundedConfigFile } from "../config/load.ts";
import { configReloads } from "../config/objects/metrics.ts";
import type { ConfigObjectSource } from "../config/objects/source.ts";
import { type Config, isDurationOption, OPTIONS, type OptionKey, type OptionSpec } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../util/errors.ts";
import type { CollectorControl } from "./collector-control.ts";

export type ReloadTrigger = "SIGHUP" | "file";

/** What a reload did: options applied at once, options that need a restart (flag names). */
export interface ReloadResult {
  result: "applied" | "unchanged" | "error";
  applied: string[];
  needsRestart: string[];
  error?: string;
}

/** Who applies a live option; set by `run` once the components exist. */
export interface LiveTargets {
  collectors?: CollectorControl;
  intake?: { setApiKey(key: { apiKey?: string; apiKeyFile?: string }): void };
  objects?: ConfigObjectSource;
}

export interface LiveConfigOptions {
  loaded: Loaded;
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  /** The root logger: its level is the --log-level. */
  logger: Logger;
  /** What `run` checks beyond the option schema (known collectors, interval list, key file). */
  validate: (config: Config) => void;
  /** How often the file is checked when no change notification came (safety net). */
  pollIntervalMs?: number;
}

const COLLECTOR_KEYS: OptionKey[] = [
  "collectors",
  "performanceCollectorInterval",
  "collectorIntervals",
  "topProcessCount",
  "tcpStates",
  "filesystemMountExclude",
];
const INTAKE_KEYS: OptionKey[] = ["intakeApiKey", "intakeApiKeyFile"];
const SETTLE_MS = 100;

export class LiveConfig {
  private loaded: Loaded;
  private targets: LiveTargets = {};
  private queue: Promise<unknown> = Promise.resolve();
  private watcher: FSWatcher | undefined;
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private settleTimer: ReturnType<typeof setTimeout> | undefined;
  private fileHash: string | undefined;
  private last: (ReloadResult & { trigger: ReloadTrigger; at: string }) | undefined;
  private pendingRestart = new Set<string>();
  /** The options as last read (restart-only ones included), to report each change once. */
  private lastRead: Config | undefined;
  private readonly log: Logger;

  constructor(private readonly opts: LiveConfigOptions) {
    this.loaded = opts.loaded;
    this.log = opts.logger.child({ component: "config" });
    this.fileHash = this.hashFile();
  }

  get config(): Config {
    return this.loaded.config;
  }

  setTargets(targets: LiveTargets): void {
    this.targets = targets;
  }

  /** Reloads now; concurrent calls run one after another. Never throws. */
  reload(trigger: ReloadTrigger): Promise<ReloadResult> {
    const run = this.queue.then(() => this.reloadNow(trigger));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(trigger: ReloadTrigger): Promise<ReloadResult> {
    const file = this.loaded.config.config || undefined;
    let next: Loaded;
    try {
      next = loadConfig({ command: "run", argv: this.opts.argv, env: this.opts.env });
      this.opts.validate(next.config);
    } catch (e) {
      const error = e instanceof ConfigError ? e.message : `unexpected: ${errorMessage(e)}`;
      configReloads.inc({ trigger, result: "error" });
      this.log.error({ trigger, file, err: error }, "config reload failed; the configuration in force is kept");
      return this.remember(trigger, { result: "error", applied: [], needsRestart: [], error });
    }
    this.fileHash = this.hashFile();
    const keys = Object.keys(next.config) as OptionKey[];
    const differs = (k: OptionKey, a: Config, b: Config) => JSON.stringify(a[k]) !== JSON.stringify(b[k]);
    const live = keys.filter((k) => this.appliesLive(k) && differs(k, next.config, this.loaded.config));
    // Options that cannot change live keep their startup value; they are reported when they change.
    const pending = keys.filter((k) => !this.appliesLive(k) && differs(k, next.config, this.loaded.config));
    const newlyPending = pending.filter((k) => differs(k, next.config, this.lastRead ?? this.loaded.config));
    const inForce = { ...next.config } as Record<OptionKey, unknown>;
    const origins = { ...next.origins };
    for (const k of pending) {
      inForce[k] = this.loaded.config[k];
      origins[k] = this.loaded.origins[k];
    }
    try {
      await this.apply(live, inForce as Config);
    } catch (e) {
      configReloads.inc({ trigger, result: "error" });
      this.log.error({ trigger, file, err: errorMessage(e) }, "config reload could not be applied; the configuration in force is kept");
      return this.remember(trigger, { result: "error", applied: [], needsRestart: [], error: errorMessage(e) });
    }
    const changes = Object.fromEntries(
      [...live, ...newlyPending].map((k) => [
        OPTIONS[k].flag,
        { from: this.display(k, this.loaded.config), to: this.display(k, next.config) },
      ]),
    );
    this.loaded = { ...next, config: inForce as Config, origins };
    this.lastRead = next.config;
    this.pendingRestart = new Set(pending.map((k) => OPTIONS[k].flag));
    const applied = live.map((k) => OPTIONS[k].flag);
    const needsRestart = newlyPending.map((k) => OPTIONS[k].flag);
    const result: ReloadResult = { result: applied.length + needsRestart.length > 0 ? "applied" : "unchanged", applied, needsRestart };
    configReloads.inc({ trigger, result: result.result });
    const fields = { trigger, file, applied, needsRestart, changes };
    if (needsRestart.length > 0)
      this.log.warn(
        fields,
        `config reloaded: ${applied.length > 0 ? `applied ${applied.join(", ")}; ` : ""}needs a restart: ${needsRestart.join(", ")}`,
      );
    else if (applied.length > 0) this.log.info(fields, `config reloaded: applied ${applied.join(", ")}`);
    else this.log.info({ trigger, file }, "config reloaded: nothing changed");
    return this.remember(trigger, result);
  }

  /**
   * A live option applies only when its part runs: collector options need the collectors (on at
   * startup), the intake key an intake that was started; otherwise it waits for a restart too.
   */
  private appliesLive(k: OptionKey): boolean {
    if (!(OPTIONS[k] as OptionSpec).live) return false;
    if (COLLECTOR_KEYS.includes(k)) return this.targets.collectors !== undefined;
    if (INTAKE_KEYS.includes(k)) return this.targets.intake !== undefined;
    return true;
  }

  private async apply(keys: OptionKey[], config: Config): Promise<void> {
    // The one step that can fail (building collectors with new options) goes first: nothing else changed yet.
    if (keys.some((k) => COLLECTOR_KEYS.includes(k))) await this.targets.collectors?.apply(config, "config reload");
    if (keys.includes("logLevel")) this.opts.logger.level = config.logLevel;
    if (keys.some((k) => INTAKE_KEYS.includes(k)) && this.targets.intake) {
      this.targets.intake.setApiKey({ apiKey: config.intakeApiKey || undefined, apiKeyFile: config.intakeApiKeyFile || undefined });
    }
  }

  private remember(trigger: ReloadTrigger, r: ReloadResult): ReloadResult {
    this.last = { ...r, trigger, at: new Date().toISOString() };
    return r;
  }

  private display(k: OptionKey, config: Config): unknown {
    const spec: OptionSpec = OPTIONS[k];
    const v = config[k];
    if (spec.secret) return v === "" ? "" : "[redacted]";
    return isDurationOption(spec) ? formatDuration(v as number) : v;
  }

  /** Watches the --config file (its directory, so an editor's rename or a ConfigMap swap is seen) and polls it. */
  watchFile(pollIntervalMs = this.opts.pollIntervalMs ?? 5000): void {
    const file = this.loaded.config.config;
    if (file === "") return;
    try {
      this.watcher = watch(dirname(file), (_event, name) => {
        if (name === null || name === basename(file) || name.startsWith("..")) this.fileTouched();
      });
      this.watcher.on("error", (e) => this.log.warn({ file, err: errorMessage(e) }, "config file watch failed; polling continues"));
    } catch (e) {
      this.log.warn({ file, err: errorMessage(e) }, "config file not watched; polling it");
    }
    this.pollTimer = setInterval(() => this.fileTouched(), pollIntervalMs);
  }

  private fileTouched(): void {
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      const hash = this.hashFile();
      if (hash === this.fileHash) return;
      this.fileHash = hash;
      void this.reload("file");
    }, SETTLE_MS);
  }

  private hashFile(): string | undefined {
    const file = this.loaded.config.config;
    if (file === "") return undefined;
    try {
      return createHash("sha256").update(readBoundedConfigFile(file)).digest("hex");
    } catch (e) {
      return `unreadable: ${errorMessage(e)}`;
    }
  }

  stop(): void {
    this.watcher?.close();
    clearInterval(this.pollTimer);
    clearTimeout(this.settleTimer);
  }

  /** GET /config: every option's value in force (secrets redacted) and where it came from, collectors, config objects, last reload. */
  view(): Record<string, unknown> {
    const options: Record<string, { value: unknown; source: string }> = {};
    for (const k of Object.keys(this.loaded.config) as OptionKey[]) {
      options[OPTIONS[k].flag] = { value: this.display(k, this.loaded.config), source: this.loaded.origins[k] ?? "default" };
    }
    return {
      options,
      ...(this.pendingRestart.size > 0 ? { needsRestart: [...this.pendingRestart] } : {}),
      ...(this.targets.collectors ? { collectors: this.targets.collectors.view() } : {}),
      ...(this.targets.objects ? { configObjects: this.targets.objects.view() } : {}),
      ...(this.last ? { lastReload: this.last } : {}),
    };
  }
}
