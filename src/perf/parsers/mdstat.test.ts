// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the /proc/mdstat parser: raid1/5/0/linear, failed and spare members, bitmap lines,
// recovery, resync, check, PENDING/DELAYED and inactive arrays (procfs's MDStat rules).

import { expect, test } from "bun:test";
import { parseMdstat } from "./mdstat.ts";

const MDSTAT = `Personalities : [linear] [raid0] [raid1] [raid6] [raid5] [raid4]
md3 : active raid6 sda1[8] sdh1[7] sdg1[6] sdf1[5] sde1[11] sdd1[3] sdc1[10] sdb1[9] sdi1[12](S) sdj1[13](F)
      5853468288 blocks super 1.2 level 6, 64k chunk, algorithm 2 [8/7] [UUUUUUU_]
      [=>...................]  recovery =  8.5% (83172864/976244736) finish=145.2min speed=102464K/sec

md127 : active raid1 sdi2[0] sdj2[1]
      312319552 blocks [2/2] [UU]

md0 : active raid1 sdb[2] sda[0]
      248896 blocks super 1.2 [2/2] [UU]
      bitmap: 0/1 pages [0KB], 65536KB chunk

md4 : inactive raid1 sda3[0](F) sdb3[1](S)
      4883648 blocks

md6 : active raid1 sdb2[2] sda2[0]
      195310144 blocks [2/1] [U_]
      [=>...................]  resync =  8.6% (16838784/195310144) finish=32.3min speed=92065K/sec

md8 : active raid1 sdb1[1] sda1[0]
      195310144 blocks [2/2] [UU]
      resync=DELAYED

md9 : active raid0 sdc2[1] sdb2[0]
      3906763776 blocks super 1.2 512k chunks

md10 : active linear sda4[0] sdb4[1]
      1000000 blocks super 1.2 0k rounding

md11 : active raid5 sdc3[2] sdb3[1] sda3[0]
      1953262592 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/3] [UUU]
      [====>................]  check = 20.4% (199424000/976631296) finish=61.3min speed=211116K/sec

unused devices: <none>
`;

test("every array kind and sync state", () => {
  const md = parseMdstat(MDSTAT);
  const by = Object.fromEntries(md.map((m) => [m.name, m]));
  expect(md.map((m) => m.name)).toEqual(["md3", "md127", "md0", "md4", "md6", "md8", "md9", "md10", "md11"]);
  expect(by.md3).toEqual({
    name: "md3",
    activity_state: "recovering",
    disks_active: 7,
    disks_failed: 1,
    disks_spare: 1,
    disks_total: 8,
    blocks_total: 5853468288,
    blocks_synced: 83172864,
  });
  expect(by.md0).toMatchObject({ activity_state: "active", disks_active: 2, disks_total: 2, blocks_synced: 248896 });
  expect(by.md4).toMatchObject({
    activity_state: "inactive",
    disks_active: 0,
    disks_total: 0,
    disks_failed: 1,
    disks_spare: 1,
    blocks_total: 4883648,
  });
  expect(by.md6).toMatchObject({ activity_state: "resyncing", disks_active: 1, disks_total: 2, blocks_synced: 16838784 });
  expect(by.md8).toMatchObject({ activity_state: "resyncing", blocks_synced: 0 });
  expect(by.md9).toMatchObject({ activity_state: "active", disks_active: 2, disks_total: 2, blocks_total: 3906763776 });
  expect(by.md10).toMatchObject({ disks_active: 2, disks_total: 2 });
  expect(by.md11).toMatchObject({ activity_state: "checking", blocks_synced: 199424000 });
});

test("no arrays", () => {
  expect(parseMdstat("Personalities : \nunused devices: <none>\n")).toEqual([]);
  expect(parseMdstat("")).toEqual([]);
});

test("malformed arrays name the file and line", () => {
  const f = "/proc/mdstat";
  expect(() => parseMdstat("Personalities : [raid1]\nmd0 :\n\n\n", f)).toThrow(`${f} line 2: not enough fields`);
  expect(() => parseMdstat("md0 : active raid1 sda[0]\n", f)).toThrow(`${f} line 1: too few lines for md device md0`);
  expect(() => parseMdstat("md0 : active raid1 sda[0]\n      blocks\n\n\n", f)).toThrow(`${f} line 2: unexpected status line`);
  expect(() => parseMdstat("md0 : active raid1 sda[0]\n      100 blocks [2/1]\n\n\n", f)).toThrow(`${f} line 2: no [total/active]`);
  expect(() => parseMdstat("md0 : active raid1 sda[0]\n      100 blocks [2/1] [U_]\n      recovery = 1%\n\n", f)).toThrow(
    `${f} line 3: unexpected sync line of md0`,
  );
});
