// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the runtime state parsers as the container_metrics labels use them: containerd CRI and
// cri-o bundle annotations, docker's config.v2.json, through cadvisorLabels.

import { describe, expect, test } from "bun:test";
import { ContainerRuntime } from "../proto/gen/antimetal/runtime/v1/container_pb.ts";
import { cadvisorLabels, parseDockerConfig, parseOciConfig } from "./metadata.ts";

const ID = "a".repeat(64);
const oci = (text: string, runtime = ContainerRuntime.CRI_CONTAINERD) => cadvisorLabels(parseOciConfig(text), runtime, ID);

describe("cadvisorLabels of an OCI config.json", () => {
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
    expect(oci(text)).toEqual({ container: "web", pod: "web-7d4b9c", namespace: "shop", image: "docker.io/library/nginx:1.27", name: ID });
  });

  test('containerd CRI sandbox: no container name (kubelet serves container="" for the pause container)', () => {
    const text = JSON.stringify({
      annotations: {
        "io.kubernetes.cri.container-type": "sandbox",
        "io.kubernetes.cri.sandbox-name": "p",
        "io.kubernetes.cri.sandbox-namespace": "n",
      },
    });
    expect(oci(text)).toEqual({ container: "", pod: "p", namespace: "n", image: "", name: ID });
  });

  test("a plain `ctr run` bundle (no annotations), or a JSON array: every label empty but the name", () => {
    const empty = { container: "", pod: "", namespace: "", image: "", name: ID };
    expect(oci('{"ociVersion":"1.0.2","process":{}}', ContainerRuntime.CONTAINERD)).toEqual(empty);
    expect(oci("[1,2]", ContainerRuntime.CONTAINERD)).toEqual(empty);
  });

  test("cri-o userdata config.json: kubernetes annotations, ImageName, Name (k8s_...) and Created (Go's nanoseconds)", () => {
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
    expect(oci(text, ContainerRuntime.CRI_O)).toEqual({
      container: "api",
      pod: "api-0",
      namespace: "prod",
      image: "quay.io/org/api:v3",
      name: "k8s_api_api-0_prod_1234_0",
    });
    expect(parseOciConfig(text).createdMs).toBe(1709287205123);
  });

  test("not JSON or truncated JSON: a SyntaxError (the reader counts the file absent until the next read)", () => {
    expect(() => parseOciConfig("")).toThrow(SyntaxError);
    expect(() => parseOciConfig('{"annotations": {')).toThrow(SyntaxError);
  });
});

describe("cadvisorLabels of docker's config.v2.json", () => {
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
    const meta = parseDockerConfig(text);
    expect(cadvisorLabels(meta, ContainerRuntime.DOCKER, ID)).toEqual({
      container: "app",
      pod: "app-1",
      namespace: "default",
      image: "redis:7",
      name: "k8s_app_app-1_default_uid_0",
    });
    expect(meta.createdMs).toBe(1735787045500);
  });

  test("a plain docker container: no kubernetes labels; the zero time is no time", () => {
    const meta = parseDockerConfig('{"Name":"/db","Created":"0001-01-01T00:00:00Z","Config":{"Image":"postgres:16"}}');
    expect(cadvisorLabels(meta, ContainerRuntime.DOCKER, ID)).toEqual({
      container: "",
      pod: "",
      namespace: "",
      image: "postgres:16",
      name: "db",
    });
    expect(meta.createdMs).toBe(0);
  });
});
