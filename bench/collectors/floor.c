// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The raw-read floor for bench/collectors: performs exactly the file operations one collection cycle of
// the agent performs (recorded from the agent itself), in plain C, and prints the median cycle time.
// Usage: floor OPSFILE CYCLES. OPSFILE lines: "r PATH" read to EOF, "l PATH" readdir, "s PATH" stat,
// "k PATH" readlink, "f PATH" statfs, "n" sock_diag TCP dump (IPv4 + IPv6), "m" drain /dev/kmsg.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 16];

static void dump(int family) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return;
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 r;
  } req;
  memset(&req, 0, sizeof(req));
  req.nlh.nlmsg_len = sizeof(req);
  req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.r.sdiag_family = family;
  req.r.sdiag_protocol = IPPROTO_TCP;
  req.r.idiag_states = ~0U;
  send(fd, &req, sizeof(req), 0);
  long states[16] = {0};
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    int done = 0;
    for (; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) { done = 1; break; }
      struct inet_diag_msg *m = NLMSG_DATA(h);
      states[m->idiag_state & 15]++;
    }
    if (done) break;
  }
  close(fd);
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  FILE *f = fopen(argv[1], "r");
  if (!f) return 2;
  int cycles = atoi(argv[2]);
  char *ops[8192];
  int nops = 0;
  char line[4096];
  while (nops < 8192 && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    ops[nops++] = strdup(line);
  }
  double *t = calloc(cycles, sizeof(double));
  for (int c = 0; c < cycles; c++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < nops; i++) {
      char op = ops[i][0];
      const char *p = ops[i] + 2;
      if (op == 'r') {
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        while (read(fd, buf, sizeof buf) > 0) {
        }
        close(fd);
      } else if (op == 'l') {
        DIR *d = opendir(p);
        if (!d) continue;
        while (readdir(d)) {
        }
        closedir(d);
      } else if (op == 's') {
        struct stat st;
        stat(p, &st);
      } else if (op == 'f') {
        struct statfs sf;
        statfs(p, &sf);
      } else if (op == 'k') {
        readlink(p, buf, sizeof buf);
      } else if (op == 'n') {
        dump(AF_INET);
        dump(AF_INET6);
      } else if (op == 'm') {
        int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) continue;
        while (read(fd, buf, 8192) > 0) {
        }
        close(fd);
      }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    t[c] = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
    usleep(1000);
  }
  int cmp(const void *x, const void *y) {
    double d = *(const double *)x - *(const double *)y;
    return d < 0 ? -1 : d > 0;
  }
  qsort(t, cycles, sizeof(double), cmp);
  printf("{\"median_ms\":%.4f,\"min_ms\":%.4f,\"p90_ms\":%.4f,\"ops\":%d}\n", t[cycles / 2], t[0], t[cycles * 9 / 10], nops);
  return 0;
}
