// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The graph's vocabulary: keys and identity, builders, type names and channels. Every source builds
// through it and the store keys through it.

export * from "./build.ts";
export * from "./keys.ts";
export * from "./names.ts";
