// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection for conversions in the module's test flavour, for
 * kernels built without CONFIG_FAULT_INJECTION (Debian's are). The files
 * /sys/kernel/debug/cc_shared_heap/fail_share/ and fail_unshare/ hold
 * probability, interval, times, space and verbose with the meanings of
 * the kernel's fault_attr (Documentation/fault-injection/), so the same
 * tests drive the in-tree heap and the module:
 *
 *   probability  percent of eligible calls that fail; 0 turns it off
 *   interval     only every interval-th eligible call may fail
 *   times        failures left; -1 for no limit
 *   space        bytes of conversions let through before any may fail
 *   verbose      0 quiet, 1 a line per failure, 2 also a stack dump
 */
#define pr_fmt(fmt) "cc_shared_heap: " fmt

#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>
#include <linux/random.h>
#include <linux/spinlock.h>

#include "cc_shared_heap.h"

static bool fail_shrinker;
module_param(fail_shrinker, bool, 0444);
MODULE_PARM_DESC(fail_shrinker,
		 "Test only: act as if the pool's shrinker could not be had");

/**
 * ccsh_knob_fail_shrinker() - whether the pool's shrinker is to fail
 *
 * Stock kernels have no fault injection to fail its allocation or
 * registration: the test flavour's fail_shrinker=1 stands in for it.
 *
 * Return: the parameter.
 */
bool ccsh_knob_fail_shrinker(void)
{
	return fail_shrinker;
}

struct ccsh_knob {
	const char *name;
	unsigned long probability;
	unsigned long interval;
	atomic_t times;
	atomic_t space;
	unsigned long verbose;
	unsigned long count;	/* eligible calls, under lock */
	spinlock_t lock;
};

static struct ccsh_knob ccsh_knobs[] = {
	[CCSH_FAIL_SHARE] = { .name = "fail_share" },
	[CCSH_FAIL_UNSHARE] = { .name = "fail_unshare" },
};

/* Whether this eligible call is one of every @interval-th. */
static bool ccsh_knob_on_interval(struct ccsh_knob *k)
{
	unsigned long interval = READ_ONCE(k->interval);
	bool due;

	if (interval <= 1)
		return true;
	spin_lock(&k->lock);
	due = !(++k->count % interval);
	spin_unlock(&k->lock);
	return due;
}

/**
 * ccsh_knob_should_fail() - decide whether to fail a conversion
 * @dir: share or unshare
 * @bytes: size of the run to convert
 *
 * Return: true if the call must fail.
 */
bool ccsh_knob_should_fail(enum ccsh_fail_dir dir, size_t bytes)
{
	struct ccsh_knob *k = &ccsh_knobs[dir];
	unsigned long probability = READ_ONCE(k->probability);
	int space;

	if (!probability || !atomic_read(&k->times))
		return false;
	space = atomic_read(&k->space);
	if (space > 0 && (size_t)space > bytes) {
		atomic_sub((int)bytes, &k->space);
		return false;
	}
	if (!ccsh_knob_on_interval(k))
		return false;
	if (probability < 100 && probability <= get_random_u32() % 100)
		return false;
	if (atomic_read(&k->times) != -1)
		atomic_dec_if_positive(&k->times);
	if (READ_ONCE(k->verbose))
		pr_notice("%s: failing a conversion of %zu bytes\n", k->name,
			  bytes);
	if (READ_ONCE(k->verbose) > 1)
		dump_stack();
	return true;
}

/**
 * ccsh_knobs_debugfs() - create fail_share/ and fail_unshare/
 * @dir: the heap's debugfs directory
 */
void ccsh_knobs_debugfs(struct dentry *dir)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ccsh_knobs); i++) {
		struct ccsh_knob *k = &ccsh_knobs[i];
		struct dentry *d = debugfs_create_dir(k->name, dir);

		spin_lock_init(&k->lock);
		k->interval = 1;
		k->verbose = 1;
		atomic_set(&k->times, 1);
		atomic_set(&k->space, 0);
		debugfs_create_ulong("probability", 0600, d, &k->probability);
		debugfs_create_ulong("interval", 0600, d, &k->interval);
		debugfs_create_atomic_t("times", 0600, d, &k->times);
		debugfs_create_atomic_t("space", 0600, d, &k->space);
		debugfs_create_ulong("verbose", 0600, d, &k->verbose);
	}
}
