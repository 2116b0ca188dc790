// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Startup check of --intake-api-key-file: a key the authorization header cannot carry is refused
// before the intake is built, without showing it.

import { readFileSync } from "node:fs";
import { ConfigError } from "../config/load.ts";
import { apiKeyProblem } from "../util/api-key.ts";

/**
 * Throws a ConfigError (exit 2) when the key file holds a key with a character a request header
 * cannot carry. A file that cannot be read is left to the intake, which re-reads it at every stream
 * open and logs each failure: the secret may be mounted after the agent starts.
 */
export function assertApiKeyFileUsable(path: string): void {
  if (path === "") return;
  let key: string;
  try {
    key = readFileSync(path, "utf8").trim();
  } catch (e) {
    if (e instanceof Error && "code" in e) return; // ENOENT, EACCES, EISDIR...: reported by the intake at every attempt
    throw e;
  }
  const problem = apiKeyProblem(key);
  if (problem) throw new ConfigError(`invalid --intake-api-key-file (${path}): the key ${problem}`);
}
