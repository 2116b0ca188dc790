// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
/*
 * Exec load generator for bench/ebpf/run.ts.
 *   storm real <rate/s> <seconds> <marker> <binary>  fork+execve <binary> <marker> <i> at a paced rate
 *   storm fail <count> <marker>                       execve() of a missing path <count> times in
 *                                                     this process (each is one failed exec)
 *   storm failrate <rate/s> <seconds> <marker>        the same, paced, for rates fork+exec cannot reach
 * Prints one JSON line: {"execs":N,"seconds":S}.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "fail") == 0) {
		long count = atol(argv[2]);
		char num[32];
		char *args[] = { "/nonexistent/antimetal-bench", argv[3], num, NULL };
		char *envp[] = { NULL };
		double t0 = now();
		for (long i = 0; i < count; i++) {
			snprintf(num, sizeof(num), "%ld", i);
			execve(args[0], args, envp);
		}
		printf("{\"execs\":%ld,\"seconds\":%.6f}\n", count, now() - t0);
		return 0;
	}
	if (argc >= 5 && strcmp(argv[1], "failrate") == 0) {
		double rate = atof(argv[2]), secs = atof(argv[3]);
		char num[32];
		char *args[] = { "/nonexistent/antimetal-bench", argv[4], num, NULL };
		char *envp[] = { NULL };
		long n = 0;
		double t0 = now(), end = t0 + secs;
		for (;;) {
			double t = now();
			if (t >= end)
				break;
			double due = t0 + n / rate;
			if (t < due) {
				if (due - t > 0.0002) {
					struct timespec ts = { 0, (long)((due - t) * 1e9) };
					nanosleep(&ts, NULL);
				}
				continue;
			}
			snprintf(num, sizeof(num), "%ld", n);
			execve(args[0], args, envp);
			n++;
		}
		printf("{\"execs\":%ld,\"seconds\":%.6f}\n", n, now() - t0);
		return 0;
	}
	if (argc >= 6 && strcmp(argv[1], "real") == 0) {
		double rate = atof(argv[2]), secs = atof(argv[3]);
		char *marker = argv[4], *bin = argv[5];
		long n = 0, inflight = 0;
		double t0 = now(), end = t0 + secs;
		char num[32];
		for (;;) {
			double t = now();
			if (t >= end)
				break;
			double due = t0 + n / rate;
			if (t < due) {
				struct timespec ts = { 0, (long)((due - t) * 1e9) };
				nanosleep(&ts, NULL);
				continue;
			}
			snprintf(num, sizeof(num), "%ld", n);
			pid_t pid = vfork();
			if (pid == 0) {
				char *args[] = { bin, marker, num, NULL };
				char *envp[] = { NULL };
				execve(bin, args, envp);
				_exit(127);
			}
			if (pid > 0) {
				n++;
				inflight++;
			}
			while (inflight > 0 && waitpid(-1, NULL, WNOHANG) > 0)
				inflight--;
		}
		while (inflight > 0 && waitpid(-1, NULL, 0) > 0)
			inflight--;
		printf("{\"execs\":%ld,\"seconds\":%.6f}\n", n, now() - t0);
		return 0;
	}
	fprintf(stderr, "usage: storm real RATE SECONDS MARKER BINARY | storm fail COUNT MARKER\n");
	return 2;
}
