// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the os-release(5) parser and node_os_version's number.

import { describe, expect, test } from "bun:test";
import { osVersionNumber, parseOSRelease } from "./os-release.ts";

const DEBIAN = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`;

describe("parseOSRelease", () => {
  test("Debian 12: quoted and bare values", () => {
    const r = parseOSRelease(DEBIAN);
    expect(r.PRETTY_NAME).toBe("Debian GNU/Linux 12 (bookworm)");
    expect(r.VERSION_CODENAME).toBe("bookworm");
    expect(r.ID).toBe("debian");
    expect(r.ID_LIKE).toBeUndefined();
  });
  test("comments, blank lines, single quotes and escapes", () => {
    const r = parseOSRelease(
      '# comment\n\nNAME=\'Ubuntu\'\nPRETTY_NAME="Say \\"hi\\" \\$HOME"\nID_LIKE="rhel centos fedora"\nVARIANT=Server\\ Edition\n',
    );
    expect(r).toEqual({ NAME: "Ubuntu", PRETTY_NAME: 'Say "hi" $HOME', ID_LIKE: "rhel centos fedora", VARIANT: "Server Edition" });
  });
  test("malformed lines name the file and line", () => {
    expect(() => parseOSRelease("ID=x\nnot an assignment\n", "/etc/os-release")).toThrow("/etc/os-release line 2: not a KEY=value");
    expect(() => parseOSRelease('NAME="open\n', "/etc/os-release")).toThrow("/etc/os-release line 1: unterminated quote");
  });
  test("empty file has no keys", () => {
    expect(parseOSRelease("")).toEqual({});
  });
});

test("osVersionNumber takes the leading major.minor of VERSION_ID", () => {
  expect(osVersionNumber("12")).toBe(12);
  expect(osVersionNumber("22.04")).toBe(22.04);
  expect(osVersionNumber("8.6.2")).toBe(8.6);
  expect(osVersionNumber("rolling")).toBeUndefined();
  expect(osVersionNumber(undefined)).toBeUndefined();
  expect(osVersionNumber("0")).toBeUndefined();
});
