// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Entry point of the antimetal-agent binary: dispatches run/collect/store/check/version/help, loads the
// config, and maps ConfigError to exit code 2.

import { buildInfo } from "./build-info.ts";
import type { CommandContext } from "./cli/context.ts";
import { makeLogger } from "./cli/context.ts";
import { COMMANDS, commandHelp, topHelp } from "./cli/help.ts";
import { ConfigError, loadConfig } from "./config/load.ts";
import type { Command } from "./config/schema.ts";

type Handler = (ctx: CommandContext) => Promise<number>;

/** Completion of the latest stdout write (writes complete in order). */
let lastWrite: Promise<void> = Promise.resolve();
function out(text: string): void {
  lastWrite = new Promise<void>((resolve) => process.stdout.write(text, () => resolve()));
}

const HANDLERS: Record<Command, () => Promise<Handler>> = {
  run: async () => (await import("./cli/run.ts")).runCommand,
  collect: async () => (await import("./cli/collect.ts")).collectCommand,
  store: async () => (await import("./cli/store.ts")).storeCommand,
  check: async () => (await import("./cli/check.ts")).checkCommand,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    const [topic, ...more] = rest;
    if (command === "help" && topic !== undefined) {
      if (more.length > 0 || !Object.hasOwn(COMMANDS, topic))
        throw new ConfigError(
          `help takes one command name (commands: run, collect, store, check, version), got ${JSON.stringify(rest.join(" "))}`,
        );
      out(commandHelp(topic as Command | "version"));
      return 0;
    }
    if (topic !== undefined)
      throw new ConfigError(`unexpected argument ${JSON.stringify(topic)} after ${command} (see antimetal-agent --help)`);
    out(topHelp());
    return command === undefined ? 2 : 0;
  }
  if (command === "version" || command === "--version") {
    if (rest.includes("--help") || rest.includes("-h")) {
      out(commandHelp("version"));
      return 0;
    }
    const stray = rest[0];
    if (stray !== undefined) {
      const what = stray.startsWith("-") ? `unknown flag ${stray.split("=")[0]}` : `unexpected argument ${JSON.stringify(stray)}`;
      throw new ConfigError(`${what} for "version": it takes no flags or arguments (see antimetal-agent version --help)`);
    }
    out(`antimetal-agent ${buildInfo.version} (revision ${buildInfo.revision}, built ${buildInfo.date}, bun ${Bun.version})\n`);
    return 0;
  }
  if (!(command in HANDLERS)) {
    process.stderr.write(`antimetal-agent: unknown command "${command}" (commands: run, collect, store, check, version)\n`);
    return 2;
  }
  const cmd = command as Command;
  const env = { ...process.env };
  const loaded = loadConfig({ command: cmd, argv: rest, env });
  if (loaded.help) {
    out(commandHelp(cmd));
    return 0;
  }
  const handler = await HANDLERS[cmd]();
  return handler({
    config: loaded.config,
    positionals: loaded.positionals,
    logger: makeLogger(loaded.config),
    stdout: out,
    resolved: { argv: rest, env, origins: loaded.origins, sources: loaded.sources },
  });
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`antimetal-agent: ${e.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`antimetal-agent: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  }
}
// Exit explicitly once stdout is written: a reader thread still blocked in the kernel (a hung mount,
// see src/perf/read-pool.ts) would otherwise keep the process from exiting on its own.
await lastWrite;
process.exit(process.exitCode);
