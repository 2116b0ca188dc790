// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// `antimetal-agent store`: turns the parsed flags and the one positional word into a typed store
// query (no second argv parser), then prints the store's answer.

import { ConfigError } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { OPTIONS } from "../config/schema.ts";
import { runStoreCommand, type StoreQuery } from "../store/cli.ts";
import type { CommandContext } from "./context.ts";

type StoreFilters = Pick<Config, "storeType" | "storeSubject" | "storeObject" | "storePredicate">;

/** The filters each store subcommand takes; a filter given to another subcommand is an error. */
const FILTERS: Record<StoreQuery["command"], ReadonlyArray<keyof StoreFilters>> = {
  resources: ["storeType"],
  relationships: ["storeSubject", "storeObject", "storePredicate"],
  stats: [],
};

const isSubcommand = (word: string | undefined): word is StoreQuery["command"] => word !== undefined && Object.hasOwn(FILTERS, word);

/** `store <resources|relationships|stats>` plus its filters, as one typed query. Throws ConfigError (exit 2). */
export function parseStoreQuery(positionals: readonly string[], config: StoreFilters): StoreQuery {
  const [sub] = positionals;
  if (!isSubcommand(sub)) {
    throw new ConfigError(`store needs one of: resources, relationships, stats (got ${JSON.stringify(positionals.join(" "))})`);
  }
  for (const key of Object.keys(FILTERS) as Array<StoreQuery["command"]>) {
    if (key === sub) continue;
    for (const filter of FILTERS[key]) {
      if (config[filter] !== "")
        throw new ConfigError(`invalid --${OPTIONS[filter].flag}: applies to "store ${key}" only, not "store ${sub}"`);
    }
  }
  const given = (v: string) => (v !== "" ? v : undefined);
  if (sub === "resources") return { command: sub, type: given(config.storeType) };
  if (sub === "relationships")
    return {
      command: sub,
      subject: given(config.storeSubject),
      object: given(config.storeObject),
      predicate: given(config.storePredicate),
    };
  return { command: sub };
}

/** `antimetal-agent store resources|relationships|stats`: prints the store in --data-directory as JSON. */
export async function storeCommand(ctx: CommandContext): Promise<number> {
  const query = parseStoreQuery(ctx.positionals, ctx.config);
  const { output, error, exitCode } = await runStoreCommand(query, { dataDirectory: ctx.config.dataDirectory });
  if (output) ctx.stdout(output.endsWith("\n") ? output : output + "\n");
  if (error) process.stderr.write(error);
  return exitCode;
}
