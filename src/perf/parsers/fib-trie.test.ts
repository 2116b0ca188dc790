// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// /proc/net/fib_trie text to the host's local IPv4 addresses.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parseFibTrieLocal } from "./fib-trie.ts";

const FIB_TRIE = readFileSync(new URL("../../../test/fixtures/perf/samples/fib_trie", import.meta.url), "utf8");

test("parseFibTrieLocal takes only the local table's /32 host LOCAL leaves", () => {
  expect(parseFibTrieLocal(FIB_TRIE).sort()).toEqual(["10.0.0.5", "10.96.0.10", "127.0.0.1", "192.168.7.1"]);
});
