// SPDX-License-Identifier: GPL-2.0
/*
 * Counters of the system_cc_shared heap and their debugfs view,
 * /sys/kernel/debug/cc_shared_heap/stats, one "name value" per line.
 * The counters are plain atomics updated where the event happens; a
 * failure to create debugfs files never affects the heap.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "cc_shared_heap.h"

struct ccsh_stats ccsh_stats;
static struct dentry *ccsh_debugfs_dir;

static int ccsh_stats_show(struct seq_file *m, void *unused)
{
	static const struct {
		const char *name;
		atomic64_t *val;
	} rows[] = {
		{ "buffers", &ccsh_stats.buffers },
		{ "shared_bytes", &ccsh_stats.shared_bytes },
		{ "pooled_bytes", &ccsh_stats.pooled_bytes },
		{ "leaked_bytes", &ccsh_stats.leaked_bytes },
		{ "share_calls", &ccsh_stats.share_calls },
		{ "unshare_calls", &ccsh_stats.unshare_calls },
		{ "share_failures", &ccsh_stats.share_failures },
		{ "unshare_failures", &ccsh_stats.unshare_failures },
		{ "pool_hits", &ccsh_stats.pool_hits },
		{ "pool_misses", &ccsh_stats.pool_misses },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(rows); i++)
		seq_printf(m, "%s %lld\n", rows[i].name,
			   (long long)atomic64_read(rows[i].val));
	seq_printf(m, "pool_limit_bytes %llu\n", ccsh_pool_get_limit());
#ifdef CCSH_HUGE_PFNMAP
	seq_printf(m, "huge_maps %lld\n",
		   (long long)atomic64_read(&ccsh_stats.huge_maps));
#endif
	seq_printf(m, "fallback_maps %lld\n",
		   (long long)atomic64_read(&ccsh_stats.fallback_maps));
#ifdef CONFIG_DMABUF_HEAPS_CC_SHARED_EMULATION
	if (ccsh_emulating())
		ccsh_emu_show(m);
#endif
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ccsh_stats);

/**
 * ccsh_debugfs_init() - create /sys/kernel/debug/cc_shared_heap/
 */
void ccsh_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("cc_shared_heap", NULL);

	ccsh_debugfs_dir = dir;
	debugfs_create_file("stats", 0444, dir, NULL, &ccsh_stats_fops);
	ccsh_convert_debugfs(dir);
	ccsh_pool_debugfs(dir);
#ifdef CONFIG_DMABUF_HEAPS_CC_SHARED_EMULATION
	if (ccsh_emulating())
		ccsh_emu_debugfs(dir);
#endif
}

/**
 * ccsh_debugfs_exit() - remove /sys/kernel/debug/cc_shared_heap/
 */
void ccsh_debugfs_exit(void)
{
	debugfs_remove_recursive(ccsh_debugfs_dir);
	ccsh_debugfs_dir = NULL;
}
