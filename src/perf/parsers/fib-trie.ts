// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// /proc/net/fib_trie: the local IPv4 addresses of the host (the "/32 host LOCAL" leaves of the
// local table; pure, from text). Which interface each belongs to comes from route.ts.

/** The addresses of the local table's "/32 host LOCAL" entries in /proc/net/fib_trie. */
export function parseFibTrieLocal(text: string): string[] {
  const out = new Set<string>();
  let inLocal = false;
  let last: string | undefined;
  for (const line of text.split("\n")) {
    if (line.length > 0 && !/^\s/.test(line)) {
      inLocal = line.trim() === "Local:";
      last = undefined;
      continue;
    }
    if (!inLocal) continue;
    const leaf = /^\s*\|--\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(line);
    if (leaf) {
      last = leaf[1];
      continue;
    }
    if (last && /^\s*\/32\s+host\s+LOCAL\s*$/.test(line)) out.add(last);
  }
  return [...out];
}
