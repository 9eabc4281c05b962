/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the heap's userspace tests share: its paths, reading and writing
 * small files, and its counters in debugfs.
 */
#ifndef CC_SHARED_HEAP_UTIL_H
#define CC_SHARED_HEAP_UTIL_H

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <drm/drm.h>

#define HEAP_NODE	"/dev/dma_heap/system_cc_shared"
#define DEBUGFS		"/sys/kernel/debug/cc_shared_heap/"
#define PAGE		4096UL

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* The value of "@key value" in a file of such lines, or -1. */
static inline long long read_key(const char *path, const char *key)
{
	char name[64];
	long long v, found = -1;
	FILE *f = fopen(path, "re");

	while (f && fscanf(f, "%63s %lld", name, &v) == 2)
		if (!strcmp(name, key))
			found = v;
	if (f)
		fclose(f);
	return found;
}

/* A /proc/meminfo line such as "MemTotal:" in bytes, or -1024. */
static inline long long meminfo_bytes(const char *field)
{
	size_t n = strlen(field);
	long long kb = -1;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) &&
		    sscanf(line + n, " %lld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

/*
 * The value of the word "@key=value" of the kernel command line into @val
 * (at most @size - 1 characters); true if the word is there.
 */
static inline bool cmdline_value(const char *key, char *val, size_t size)
{
	char line[4096], *word, *save = NULL;
	size_t n = strlen(key);
	bool found = false;
	FILE *f = fopen("/proc/cmdline", "re");

	if (!f)
		return false;
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	for (word = strtok_r(line, "\n ", &save); word;
	     word = strtok_r(NULL, "\n ", &save)) {
		if (strncmp(word, key, n) || word[n] != '=')
			continue;
		/* the last one counts, as for the kernel's own parameters */
		snprintf(val, size, "%s", word + n + 1);
		found = true;
	}
	return found;
}

/* Seconds on the monotonic clock. */
static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The next number of the SplitMix64 sequence of seed state @x. */
static inline unsigned long long splitmix64(unsigned long long *x)
{
	unsigned long long z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A vgem device (DRM PRIME importer), or -1. */
static inline int open_vgem(void)
{
	char name[32], drv[16];
	int i, fd;

	for (i = 0; i < 16; i++) {
		struct drm_version v = { .name = drv, .name_len = sizeof(drv) - 1 };

		snprintf(name, sizeof(name), "/dev/dri/card%d", i);
		fd = open(name, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(drv, 0, sizeof(drv));
		if (!ioctl(fd, DRM_IOCTL_VERSION, &v) && !strcmp(drv, "vgem"))
			return fd;
		close(fd);
	}
	return -1;
}

/* The counters of DEBUGFS "stats"; emulated: the emu_* lines are there. */
struct stats {
	long long buffers, shared_bytes, pooled_bytes, leaked_bytes;
	long long share_calls, unshare_calls, share_failures, unshare_failures;
	long long pool_hits, pool_misses;
	long long emu_shared_pages, emu_lost_pages, emu_stray_pages;
	long long emu_freed_unsafe_pages, emu_violations;
	bool emulated;
};

/* 0 when all of @val was written to @path, else -1 (errno set). */
static inline int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/* The number @path starts with, or -1. */
static inline long long read_ll(const char *path)
{
	long long v = -1;
	FILE *f = fopen(path, "re");

	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* 0 when the heap's ten base counters were read into @s, else -1. */
static inline int read_stats(struct stats *s)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
#define F(x) { #x, offsetof(struct stats, x) }
		F(buffers), F(shared_bytes), F(pooled_bytes), F(leaked_bytes),
		F(share_calls), F(unshare_calls), F(share_failures),
		F(unshare_failures), F(pool_hits), F(pool_misses),
		F(emu_shared_pages), F(emu_lost_pages), F(emu_stray_pages),
		F(emu_freed_unsafe_pages), F(emu_violations),
#undef F
	};
	unsigned int i, found = 0;
	char name[64];
	long long val;
	FILE *f;

	memset(s, 0, sizeof(*s));
	f = fopen(DEBUGFS "stats", "re");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", name, &val) == 2) {
		for (i = 0; i < ARRAY_SIZE(fields); i++) {
			if (strcmp(name, fields[i].name))
				continue;
			*(long long *)((char *)s + fields[i].off) = val;
			found++;
		}
	}
	fclose(f);
	s->emulated = found == ARRAY_SIZE(fields);
	return found >= 10 ? 0 : -1;
}

#endif /* CC_SHARED_HEAP_UTIL_H */
