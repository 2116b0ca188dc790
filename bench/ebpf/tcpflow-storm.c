// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
/*
 * TCP connection load generator for bench/ebpf/tcpflow.ts, compiled at bench time with cc.
 *   tcpflow-storm <rate/s, 0 = as fast as possible> <seconds> [workers, default: online CPUs]
 * Listens on 127.0.0.1:0, turns on the kernel's BPF run-time statistics for as long as it runs
 * (BPF_ENABLE_STATS: the fd it returns keeps them on; they go off when the process exits, so
 * nothing global is left changed), prints {"port":P,"bpf_stats":0|1}, waits for a line on stdin,
 * then for <seconds> opens connections at <rate>, paced per worker in 1 ms slots.
 * Per connection, kept lean (loopback connect completes the handshake inside connect(2)):
 * socket, connect, accept4, 1 byte client->server (written, read), client close with SO_LINGER 0
 * (RST: no TIME_WAIT, so ephemeral ports never run out), server close. For the tracers that is
 * one connect, one accept and two closes. Workers are processes sharing the listener; each
 * accepts the connection it just made or one of a sibling's (the totals balance).
 * Prints {"connections":N,"seconds":S}.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int enable_bpf_stats(void)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.enable_stats.type = BPF_STATS_RUN_TIME;
	return syscall(SYS_bpf, BPF_ENABLE_STATS, &attr, sizeof(attr));
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: tcpflow-storm <rate> <seconds> [workers]\n");
		return 2;
	}
	int workers = argc == 4 ? atoi(argv[3]) : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (workers < 1)
		workers = 1;
	double rate = atof(argv[1]) / workers, secs = atof(argv[2]);
	long *counts = mmap(NULL, sizeof(long) * workers, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	if (counts == MAP_FAILED || ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 4096) ||
	    getsockname(ls, (struct sockaddr *)&a, &alen)) {
		perror("listen");
		return 1;
	}
	int stats_fd = enable_bpf_stats();
	printf("{\"port\":%d,\"bpf_stats\":%d}\n", ntohs(a.sin_port), stats_fd >= 0);
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	struct linger lg = { 1, 0 };
	long n = 0;
	char b = 'x';
	double t0 = now(), end = t0 + secs;
	int w = 0;
	for (; w < workers - 1; w++)
		if (fork() == 0)
			break;
	for (;;) {
		double t = now();
		if (t >= end)
			break;
		if (rate > 0 && n >= (t - t0) * rate) {
			/* Ahead of schedule: sleep to the next 1 ms slot (no busy-wait stealing the tracers' CPU). */
			struct timespec ts = { 0, 1000000 - (long)((t - t0) * 1e9) % 1000000 };
			nanosleep(&ts, NULL);
			continue;
		}
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a))) {
			perror("connect");
			return 1;
		}
		int s = accept4(ls, NULL, NULL, 0);
		if (s < 0) {
			perror("accept");
			return 1;
		}
		if (write(c, &b, 1) != 1 || read(s, &b, 1) != 1) {
			perror("io");
			return 1;
		}
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c);
		close(s);
		n++;
	}
	counts[w] = n;
	if (w != workers - 1)
		return 0;
	while (wait(NULL) > 0)
		;
	long total = 0;
	for (int i = 0; i < workers; i++)
		total += counts[i];
	printf("{\"connections\":%ld,\"seconds\":%.3f}\n", total, now() - t0);
	return 0;
}
