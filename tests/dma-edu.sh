# SPDX-License-Identifier: GPL-2.0
# The real-DMA rig: QEMU's edu PCI device (a DMA engine over a 4 KiB
# buffer, 28-bit DMA mask by default) driven by the test driver
# cc_shared_edu_test, and tests/selftests/cc_shared_heap_dma_edu.c in the
# VM. Which topologies are booted, the QEMU and kernel arguments of each,
# and, in one table, what each delivery of the heap must do in each.
# Sourced (after scripts/lib.sh) by tests/check-base.sh,
# tests/check-module.sh and tests/check.sh. Nothing here runs on its own.

EDU_TOPOLOGIES="none mask intel-iommu virtio-iommu swiotlb"

# What the heap must do with the device (ccsh_edu_expect=), then what the
# DMA core must do with a scatterlist mapped DMA_ATTR_CC_SHARED
# (ccsh_edu_core=), per delivery (a base of tests/check-base.sh, a target
# of tests/check-module.sh) and topology:
#   inplace  the heap's buffer attaches, round-trips, takes no swiotlb slot
#   refused  the attachment fails with EINVAL
#   maps     the core maps the scatterlist (mainline 7.3's own core
#            wherever it is: the bug the heap guards against)
#   refused  the core refuses it with EINVAL (our DMA patch on 6.12, the
#            series' DMA fix on 7.3: under an IOMMU)
#   unreachable  the core refuses it with EIO: the driver's own pages lie
#            beyond the device's mask and the 6.12 series' dma-direct does
#            not bounce shared memory (mainline's bounces it: maps)
#   none     the kernel has no DMA_ATTR_CC_SHARED
# Debian 6.1 has no virtio-iommu driver: the device stays untranslated.
edu_table() {
	cat <<'EOF'
# delivery  none          mask                 intel-iommu      virtio-iommu     swiotlb
6.12        inplace/maps  refused/unreachable  refused/refused  refused/refused  inplace/maps
7.3         inplace/maps  refused/maps         refused/refused  refused/refused  refused/maps
6.1-cloud   inplace/none  refused/none         refused/none     inplace/none     inplace/none
6.12-cloud  inplace/none  refused/none         refused/none     refused/none     inplace/none
7.3-cloud   inplace/maps  refused/maps         refused/maps     refused/maps     refused/maps
EOF
}

# The expectations' kernel arguments for DELIVERY in TOPOLOGY; none for a
# delivery the table does not know (then the tests that need them skip).
edu_expect_args() {
	local delivery=$1 topo=$2 cell
	cell=$(edu_table | awk -v d="$delivery" -v t="$topo" '
		/^#/ { for (i = 3; i <= NF; i++) col[$i] = i - 1; next }
		$1 == d && col[t] { print $(col[t]) }')
	[ -n "$cell" ] || return 0
	echo "ccsh_edu_expect=${cell%/*} ccsh_edu_core=${cell#*/}"
}

# The guest's memory in TOPOLOGY.
edu_mem() {
	case $1 in
	# all of it below the device's 28-bit (256 MiB) mask
	none) echo 240M ;;
	# 256 MiB below 4 GiB (swiotlb's pool is there, within the mask),
	# 768 MiB above it, where the page allocator takes the buffers from
	mask) echo 1G ;;
	*) echo "${VM_MEM:-1G}" ;;
	esac
}

# QEMU's arguments for TOPOLOGY (an IOMMU must come before the devices it
# translates).
edu_qemu_args() {
	local full_mask=dma_mask=0xffffffffffffffff
	case $1 in
	none) echo "-device edu" ;;
	mask) echo "-M pc,max-ram-below-4g=256M -device edu" ;;
	intel-iommu)
		echo "-M q35 -device intel-iommu,intremap=off -device edu,$full_mask" ;;
	virtio-iommu)
		echo "-M q35 -device virtio-iommu-pci -device edu,$full_mask" ;;
	swiotlb) echo "-device edu,$full_mask" ;;
	esac
}

# The kernel's arguments for TOPOLOGY: the driver's mask and the DMA setup.
edu_kernel_args() {
	case $1 in
	none | mask) echo "cc_shared_edu_test.dma_bits=28" ;;
	intel-iommu)
		echo "intel_iommu=on iommu.passthrough=0 iommu.strict=1" \
		     "cc_shared_edu_test.dma_bits=64" ;;
	virtio-iommu)
		echo "iommu.passthrough=0 iommu.strict=1" \
		     "cc_shared_edu_test.dma_bits=64" ;;
	swiotlb) echo "swiotlb=force cc_shared_edu_test.dma_bits=64" ;;
	esac
}

# The device starts each DMA from a 100 ms timer of the machine's clock
# (the driver moves 2 KiB with two of them: 256 DMAs for the two 64 KiB
# round trips of a boot), and the driver sleeps while it waits. With
# -icount sleep=off that clock skips over the idle time: the five boots of
# a kernel took 37 s instead of 121 s (6.12 test kernel), 25 s instead of
# 160 s (Debian 6.1), 34 s instead of 124 s (Debian 6.12), measured beside
# a kernel build. -icount runs every vCPU in one thread, where Debian's 6.1
# took minutes to bring up a second CPU: these boots run on one.
EDU_QEMU_SPEED="-icount shift=auto,sleep=off"

# Boot TOPOLOGY for DELIVERY with BOOT (a function: BOOT NAME ARGS...,
# booting with VM_MEM, VM_SMP and VM_QEMU_ARGS from its environment); the
# log is dma-edu-TOPOLOGY.log.
edu_boot() {
	local boot=$1 delivery=$2 topo=$3
	VM_MEM=$(edu_mem "$topo") VM_SMP=1 \
	VM_QEMU_ARGS="$(edu_qemu_args "$topo") $EDU_QEMU_SPEED" \
		"$boot" "dma-edu-$topo" kunit.enable=0 cc_shared_heap.emulate=1 \
		ccsh_run=dma-edu $(edu_kernel_args "$topo") \
		$(edu_expect_args "$delivery" "$topo")
}

# Copy the stock kernel's virtio-iommu driver, where it is a module, with
# the modules it depends on, uncompressed into DIR as NN-NAME.ko (NN: the
# order to load them in): for the virtio-iommu boot of a stock kernel.
# KROOT is the unpacked kernel (boot/, lib/modules/ or usr/lib/modules/).
edu_extra_modules() {
	local kroot=$1 kver=$2 dir=$3 mdir= n=0 d
	local -A seen=()
	for d in "$kroot/lib/modules/$kver" "$kroot/usr/lib/modules/$kver"; do
		[ -d "$d/kernel" ] && mdir=$d && break
	done
	[ -n "$mdir" ] || return 0
	mkdir -p "$dir"
	# $1: a module's name (dashes or underscores); what it depends on first
	_edu_add() {
		local name=${1//-/_} file deps dep tmp
		[ -z "${seen[$name]:-}" ] || return 0
		seen[$name]=1
		file=$(find "$mdir/kernel" \( -name "$name.ko*" -o \
			-name "${name//_/-}.ko*" \) -print -quit)
		[ -n "$file" ] || return 0	# built in, or not there at all
		tmp=$(mktemp --suffix=.ko)	# modinfo reads only *.ko files
		case $file in
		*.ko.xz) xz -dc "$file" > "$tmp" ;;
		*.ko.zst) zstd -qdc "$file" > "$tmp" ;;
		*.ko.gz) gzip -dc "$file" > "$tmp" ;;
		*) cp "$file" "$tmp" ;;
		esac
		deps=$(modinfo -F depends "$tmp")
		for dep in ${deps//,/ }; do
			_edu_add "$dep"
		done
		n=$((n + 1))
		mv "$tmp" "$(printf '%s/%02d-%s.ko' "$dir" "$n" "$name")"
	}
	_edu_add virtio_iommu
	unset -f _edu_add
	chmod 0644 "$dir"/*.ko 2>/dev/null || true
}
