// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The metrics consumers: the interface and router subscription, the OTLP consumer and the debug consumer.

export { type ConsumerHealth, type MetricsConsumer, subscribeConsumer } from "./consumer.ts";
export { DebugConsumer } from "./debug/consumer.ts";
export { type DebugFormat, type DebugLevel, debugConfigFrom } from "./debug/format.ts";
export { otlpConfigFrom } from "./otlp/config.ts";
export { OtlpConsumer } from "./otlp/consumer.ts";
