// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import { runStoreCommand } from "../store/index.ts";
import { ConfigError } from "../config/load.ts";
import type { CommandContext } from "./context.ts";

/** `antimetal-agent store resources|relationships|stats`: prints the store in --data-directory as JSON. */
export async function storeCommand(ctx: CommandContext): Promise<number> {
  const { config, positionals } = ctx;
  const [sub, ...extra] = positionals;
  if (sub === undefined || !["resources", "relationships", "stats"].includes(sub) || extra.length > 0) {
    throw new ConfigError(`store needs one of: resources, relationships, stats (got ${JSON.stringify(positionals.join(" "))})`);
  }
  const argv = [sub];
  const pairs: Array<[string, string]> = [
    ["--type", config.storeType],
    ["--subject", config.storeSubject],
    ["--object", config.storeObject],
    ["--predicate", config.storePredicate],
  ];
  for (const [flag, value] of pairs) if (value !== "") argv.push(flag, value);
  const { output, error, exitCode } = await runStoreCommand(argv, { dataDirectory: config.dataDirectory });
  if (output) ctx.stdout(output.endsWith("\n") ? output : output + "\n");
  if (error) process.stderr.write(error);
  return exitCode;
}
