// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Whether an API key can travel in the `authorization` request header, told without showing it.
// Shared by config validation (startup) and anything that re-reads a key later (the key file).

/**
 * Why an API key cannot go into the `authorization` header, or undefined. Never includes the key
 * (not even a part of it): the message is printed and may be logged.
 */
export function apiKeyProblem(key: string): string | undefined {
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code >= 0x20 && code <= 0x7e) continue;
    const kind = code < 0x20 || code === 0x7f ? "a control character (newline, tab, ...)" : "a non-ASCII character";
    return `contains ${kind}, which a request header cannot carry (only printable ASCII is allowed); the key is not shown`;
  }
  return undefined;
}
