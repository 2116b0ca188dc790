// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Resolves a subcommand's configuration from argv, the environment and a YAML file, and rejects bad
// input (unknown flags, stray words, invalid values, oversized files) as one ConfigError line.

import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { errorMessage } from "../util/errors.ts";
import { formatDuration } from "./duration.ts";
import { type Command, type Config, envNames, isDurationOption, OPTIONS, type OptionKey, type OptionSpec, optionsFor } from "./schema.ts";

/** A config file holds a few dozen options; anything larger is a mistake (and parsing it costs RAM and time). */
export const MAX_CONFIG_FILE_BYTES = 1 << 20;

/** How many positional words each subcommand takes (store: resources, relationships or stats). */
const POSITIONALS: Record<Command, number> = { run: 0, collect: 0, check: 0, store: 1 };

/** Bad input from the user: the CLI prints the message on one line and exits 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export type Source = "default" | "file" | "env" | "flag";

export interface LoadInput {
  command: Command;
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  readFile?: (path: string) => string;
}

export interface Loaded {
  config: Config;
  sources: Record<OptionKey, Source>;
  /** Where each value came from, as error messages name it: "flag --x", "env ANTIMETAL_X", "file /path", "default". */
  origins: Record<OptionKey, string>;
  positionals: string[];
  help: boolean;
}

interface Raw {
  value: unknown;
  source: Source;
  origin: string;
}

/** Resolves the configuration of one subcommand: flag > env > file > default. Throws ConfigError. */
export function loadConfig(input: LoadInput): Loaded {
  const keys = optionsFor(input.command);
  const byFlag = new Map(keys.map((k) => [OPTIONS[k].flag, k]));
  const { flags, positionals, help } = parseArgv(input.argv, input.command, byFlag);

  const raw = new Map<OptionKey, Raw>();
  for (const k of keys) raw.set(k, { value: OPTIONS[k].default, source: "default", origin: "default" });

  // The file's path is validated (absolute, like every path option) before anything is read.
  const configRaw = flags.get("config") ?? envValue("config", input.env);
  if (configRaw) {
    const configPath = validate("config", configRaw) as string;
    if (configPath !== "") for (const [k, r] of readConfigFile(configPath, keys, input.readFile)) raw.set(k, r);
  }
  for (const k of keys) {
    const fromEnv = envValue(k, input.env);
    if (fromEnv) raw.set(k, fromEnv);
  }
  for (const [k, r] of flags) raw.set(k, r);

  const config = {} as Record<OptionKey, unknown>;
  const sources = {} as Record<OptionKey, Source>;
  const origins = {} as Record<OptionKey, string>;
  for (const k of keys) {
    const r = raw.get(k)!;
    config[k] = validate(k, r);
    sources[k] = r.source;
    origins[k] = r.origin;
  }
  return { config: config as Config, sources, origins, positionals, help };
}

function validate(key: OptionKey, r: Raw): unknown {
  const parsed = (OPTIONS[key].schema as z.ZodType).safeParse(r.value);
  if (parsed.success) return parsed.data;
  const reason = parsed.error.issues[0]?.message ?? "invalid value";
  throw new ConfigError(`invalid --${OPTIONS[key].flag} (${r.origin}): ${reason}`);
}

/** A word after the flags: name it, and say how a boolean takes a value when one was just written bare. */
function strayWord(word: string, command: Command, bareBoolean: string | undefined): ConfigError {
  const takes = POSITIONALS[command] === 0 ? `"${command}" takes no arguments` : `"${command}" takes one argument`;
  if (bareBoolean !== undefined) {
    return new ConfigError(
      `unexpected argument ${JSON.stringify(word)} after --${bareBoolean}: ${takes}; a boolean flag takes its value after "=" (--${bareBoolean}=${word})`,
    );
  }
  return new ConfigError(`unexpected argument ${JSON.stringify(word)}: ${takes} (see antimetal-agent ${command} --help)`);
}

function parseArgv(argv: readonly string[], command: Command, byFlag: Map<string, OptionKey>) {
  const flags = new Map<OptionKey, Raw>();
  const positionals: string[] = [];
  let help = false;
  // The flag name when the previous token was a boolean flag without "=value".
  let bareBoolean: string | undefined;
  // Reported after the loop: `--help` anywhere wins over a stray word.
  let stray: ConfigError | undefined;
  const positional = (word: string) => {
    if (positionals.length < POSITIONALS[command]) positionals.push(word);
    else stray ??= strayWord(word, command, bareBoolean);
  };
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") {
      for (const word of argv.slice(i + 1)) positional(word);
      break;
    }
    if (!token.startsWith("-") || token === "-") {
      positional(token);
      bareBoolean = undefined;
      continue;
    }
    bareBoolean = undefined;
    const body = token.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq === -1 ? body : body.slice(0, eq);
    if (name === "help" || name === "h") {
      help = true;
      continue;
    }
    const key = byFlag.get(name);
    if (!key) throw new ConfigError(`unknown flag --${name} for "${command}" (see antimetal-agent ${command} --help)`);
    const spec: OptionSpec = OPTIONS[key];
    let value: string;
    if (eq !== -1) {
      value = body.slice(eq + 1);
    } else if (spec.boolean) {
      value = "true";
      bareBoolean = name;
    } else if (i + 1 < argv.length) {
      value = argv[++i]!;
    } else {
      throw new ConfigError(`flag --${name} needs a value (${spec.placeholder})`);
    }
    flags.set(key, { value, source: "flag", origin: `flag ${token.split("=")[0]}` });
  }
  if (stray && !help) throw stray;
  return { flags, positionals, help };
}

function envValue(key: OptionKey, env: LoadInput["env"]): Raw | undefined {
  for (const name of envNames(key)) {
    const v = env[name];
    if (v !== undefined) return { value: v, source: "env", origin: `env ${name}` };
  }
  return undefined;
}

/**
 * Reads a config file of at most MAX_CONFIG_FILE_BYTES: the size is checked on the open file before
 * reading, and the read itself stops one byte past the limit (a file that grows, a FIFO).
 */
export function readBoundedConfigFile(path: string): string {
  const fd = openSync(path, "r");
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw new ConfigError(`invalid --config (${path}): is a directory, not a file`);
    if (stat.size > MAX_CONFIG_FILE_BYTES) throw tooLarge(path, `${stat.size} bytes`);
    const buf = Buffer.alloc(MAX_CONFIG_FILE_BYTES + 1);
    let length = 0;
    while (length < buf.length) {
      const n = readSync(fd, buf, length, buf.length - length, null);
      if (n <= 0) break;
      length += n;
    }
    if (length > MAX_CONFIG_FILE_BYTES) throw tooLarge(path, `more than ${MAX_CONFIG_FILE_BYTES} bytes`);
    return buf.toString("utf8", 0, length);
  } finally {
    closeSync(fd);
  }
}

function tooLarge(path: string, size: string): ConfigError {
  return new ConfigError(`invalid --config (${path}): ${size}, over the 1 MiB limit of a config file`);
}

function readConfigFile(path: string, keys: OptionKey[], readFile = readBoundedConfigFile): Map<OptionKey, Raw> {
  let text: string;
  try {
    text = readFile(path);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`invalid --config (${path}): cannot read: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`invalid --config (${path}): not YAML: ${errorMessage(e).split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) return new Map();
  if (typeof doc !== "object" || Array.isArray(doc))
    throw new ConfigError(`invalid --config (${path}): must be a mapping of flag names to values`);
  const known = new Set(Object.values(OPTIONS).map((o) => o.flag));
  const out = new Map<OptionKey, Raw>();
  for (const [name, value] of Object.entries(doc)) {
    if (!known.has(name)) throw new ConfigError(`invalid --config (${path}): unknown option "${name}"`);
    if (name === "config") throw new ConfigError(`invalid --config (${path}): a config file cannot name another config file`);
    const withFlag = (Object.keys(OPTIONS) as OptionKey[]).filter((k) => OPTIONS[k].flag === name);
    const fileSettable = (k: OptionKey) => !(OPTIONS[k] as OptionSpec).scoped && !(OPTIONS[k] as OptionSpec).flagOnly;
    if (!withFlag.some(fileSettable)) {
      const where = withFlag.flatMap((k) => envNames(k).map((e) => `${e} for ${OPTIONS[k].commands.join(", ")}`));
      const how = where.length > 0 ? `give it as a flag or ${where.join(" or ")}` : "give it as a flag";
      throw new ConfigError(
        `invalid --config (${path}): "${name}" is an option of one command invocation, not of the shared config file; ${how}`,
      );
    }
    const key = keys.find((k) => OPTIONS[k].flag === name && fileSettable(k));
    if (!key) continue; // an option of another subcommand (or, like collect's --collectors, one the file does not set)
    out.set(key, {
      value: typeof value === "number" || typeof value === "boolean" ? String(value) : value,
      source: "file",
      origin: `file ${path}`,
    });
  }
  return out;
}

/** The effective configuration for --print-config, secrets redacted, in flag names. */
export function redactedView(loaded: Pick<Loaded, "config">): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(loaded.config) as Array<[OptionKey, unknown]>) {
    const spec: OptionSpec = OPTIONS[k];
    out[spec.flag] = spec.secret && v !== "" ? "[redacted]" : isDurationOption(spec) ? formatDuration(v as number) : v;
  }
  return out;
}
