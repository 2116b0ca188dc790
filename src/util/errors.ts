// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The message of anything thrown, for log fields and one-line errors.

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
