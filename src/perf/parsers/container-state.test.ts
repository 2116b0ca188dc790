// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the runtime state parsers: containerd CRI and cri-o bundle annotations, docker's config.v2.json.

import { describe, expect, test } from "bun:test";
import { parseDockerConfigV2, parseOciBundleLabels, rfc3339Seconds } from "./container-state.ts";

const ID = "a".repeat(64);

describe("parseOciBundleLabels", () => {
  test("containerd CRI container: container, sandbox name/namespace, image; name is the id (cAdvisor's first alias)", () => {
    const text = JSON.stringify({
      ociVersion: "1.1.0",
      annotations: {
        "io.kubernetes.cri.container-type": "container",
        "io.kubernetes.cri.container-name": "web",
        "io.kubernetes.cri.sandbox-name": "web-7d4b9c",
        "io.kubernetes.cri.sandbox-namespace": "shop",
        "io.kubernetes.cri.image-name": "docker.io/library/nginx:1.27",
      },
    });
    expect(parseOciBundleLabels(text, ID)).toEqual({
      container: "web",
      pod: "web-7d4b9c",
      namespace: "shop",
      image: "docker.io/library/nginx:1.27",
      name: ID,
    });
  });

  test('containerd CRI sandbox: no container name (kubelet serves container="" for the pause container)', () => {
    const text = JSON.stringify({
      annotations: {
        "io.kubernetes.cri.container-type": "sandbox",
        "io.kubernetes.cri.sandbox-name": "p",
        "io.kubernetes.cri.sandbox-namespace": "n",
      },
    });
    expect(parseOciBundleLabels(text, ID)).toEqual({ container: "", pod: "p", namespace: "n", image: "", name: ID });
  });

  test("a plain `ctr run` bundle (no annotations): every label empty but the name", () => {
    expect(parseOciBundleLabels('{"ociVersion":"1.0.2","process":{}}', ID)).toEqual({
      container: "",
      pod: "",
      namespace: "",
      image: "",
      name: ID,
    });
  });

  test("cri-o userdata config.json: kubernetes annotations, ImageName, Name (k8s_...) and Created", () => {
    const text = JSON.stringify({
      annotations: {
        "io.kubernetes.container.name": "api",
        "io.kubernetes.pod.name": "api-0",
        "io.kubernetes.pod.namespace": "prod",
        "io.kubernetes.cri-o.ImageName": "quay.io/org/api:v3",
        "io.kubernetes.cri-o.Name": "k8s_api_api-0_prod_1234_0",
        "io.kubernetes.cri-o.Created": "2024-03-01T10:00:05.123456789Z",
      },
    });
    expect(parseOciBundleLabels(text, ID)).toEqual({
      container: "api",
      pod: "api-0",
      namespace: "prod",
      image: "quay.io/org/api:v3",
      name: "k8s_api_api-0_prod_1234_0",
      createdSeconds: 1709287205,
    });
  });

  test("not JSON, truncated JSON, or a JSON array: undefined", () => {
    expect(parseOciBundleLabels("", ID)).toBeUndefined();
    expect(parseOciBundleLabels('{"annotations": {', ID)).toBeUndefined();
    expect(parseOciBundleLabels("[1,2]", ID)).toBeUndefined();
  });
});

describe("parseDockerConfigV2", () => {
  test("Name without '/', Config.Image, io.kubernetes.* labels, Created", () => {
    const text = JSON.stringify({
      ID,
      Created: "2025-01-02T03:04:05.5Z",
      Name: "/k8s_app_app-1_default_uid_0",
      Config: {
        Image: "redis:7",
        Labels: { "io.kubernetes.container.name": "app", "io.kubernetes.pod.name": "app-1", "io.kubernetes.pod.namespace": "default" },
      },
    });
    expect(parseDockerConfigV2(text)).toEqual({
      container: "app",
      pod: "app-1",
      namespace: "default",
      image: "redis:7",
      name: "k8s_app_app-1_default_uid_0",
      createdSeconds: 1735787045,
    });
  });

  test("a plain docker container: no kubernetes labels", () => {
    expect(parseDockerConfigV2('{"Name":"/db","Config":{"Image":"postgres:16"}}')).toEqual({
      container: "",
      pod: "",
      namespace: "",
      image: "postgres:16",
      name: "db",
    });
  });
});

test("rfc3339Seconds: Go's nanosecond times, offsets, the zero time", () => {
  expect(rfc3339Seconds("2024-03-01T10:00:05.999999999Z")).toBe(1709287205);
  expect(rfc3339Seconds("2024-03-01T11:00:05+01:00")).toBe(1709287205);
  expect(rfc3339Seconds("0001-01-01T00:00:00Z")).toBeUndefined();
  expect(rfc3339Seconds("yesterday")).toBeUndefined();
});
