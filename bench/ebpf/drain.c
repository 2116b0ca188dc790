// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt
/*
 * C libbpf consumer of the execsnoop program, the anchor for bench/ebpf/run.ts (b).
 * Loads <obj> with a <ring_bytes> ring buffer; twice (round 0, then round 1 with everything warm):
 * attaches both tracepoints, prints "ready", waits for a line on stdin (the producer has filled
 * the ring meanwhile), detaches, times one ring_buffer__consume() that drains everything and prints
 * {"round":R,"records":N,"bytes":B,"seconds":S}. The callback copies each record into a scratch
 * buffer (the Bun reader copies every record too).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>

static unsigned long long records, bytes;
static char scratch[1 << 20];
static size_t pos;

static int on_sample(void *ctx, void *data, size_t size)
{
	if (pos + size + 4 > sizeof(scratch))
		pos = 0;
	memcpy(scratch + pos, &size, 4);
	memcpy(scratch + pos + 4, data, size);
	pos += size + 4;
	records++;
	bytes += size;
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: drain OBJ RING_BYTES\n");
		return 2;
	}
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) { perror("open"); return 1; }
	bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "events"), atoi(argv[2]));
	if (bpf_object__load(obj)) { perror("load"); return 1; }
	struct bpf_program *p1 = bpf_object__find_program_by_name(obj, "tracepoint__syscalls__sys_enter_execve");
	struct bpf_program *p2 = bpf_object__find_program_by_name(obj, "tracepoint__syscalls__sys_exit_execve");
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj, "events")), on_sample, NULL, NULL);
	if (!rb) { perror("ring_buffer__new"); return 1; }
	/* round 0 and round 1: the same fill and drain twice (run.ts reports both) */
	for (int round = 0; round < 2; round++) {
		struct bpf_link *l1 = bpf_program__attach(p1);
		struct bpf_link *l2 = bpf_program__attach(p2);
		if (!l1 || !l2) { perror("attach"); return 1; }
		printf("ready\n");
		fflush(stdout);
		char line[64];
		if (!fgets(line, sizeof(line), stdin)) return 1;
		bpf_link__destroy(l1);
		bpf_link__destroy(l2);
		records = bytes = 0;
		double t0 = now();
		int n = ring_buffer__consume(rb);
		double dt = now() - t0;
		printf("{\"round\":%d,\"records\":%llu,\"bytes\":%llu,\"seconds\":%.9f,\"ret\":%d}\n", round, records, bytes, dt, n);
		fflush(stdout);
	}
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return 0;
}
