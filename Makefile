# SPDX-License-Identifier: GPL-2.0
# cc-shared-heap: the verbs. See README.md.

.PHONY: run check check-debug bench install kernel initramfs patches module deb clean distclean

# BASE=6.12 (default) or BASE=7.3 selects the kernel base for every verb
ifdef BASE
export BASE
endif

run:		## build, boot the VM in emulated mode, run the demo
	bash scripts/run.sh

check:		## build and run every test; ends with "N passed, N failed"
	bash tests/check.sh

check-debug:	## every kernel test again on kernels with KASAN, kmemleak, DEBUG_VM, DMA_API_DEBUG...
	CHECK_FLAVOURS=debug CHECK_MODULES= CHECK_NO_DEB=1 bash tests/check.sh

bench:		## boot the VM (4 GiB) and benchmark; build/bench/bench.{txt,json,png}
	bash scripts/bench.sh

kernel:		## assemble the tree and build build/bzImage (BASE=7.3: build/7.3/)
	bash scripts/deps.sh
	bash scripts/assemble.sh
	bash scripts/kernel.sh

initramfs: kernel
	bash scripts/initramfs.sh

patches:	## export the series as git format-patch into build/patches (or build/7.3/)
	bash scripts/deps.sh
	bash scripts/export-patches.sh

module:		## cc_shared_heap.ko for KVER (default: running kernel) in build/module/KVER/; EMULATION=1: test flavour
	EMULATION=$(EMULATION) bash scripts/module.sh $(KVER)

deb:		## the DKMS package build/cc-shared-heap-dkms_<version>_all.deb
	bash scripts/deb.sh

PREFIX ?= /usr/local

install:	## install the cc-heap tool and its man page (PREFIX=/usr/local, DESTDIR=)
	mkdir -p build
	gcc -static -O2 -Wall -Werror -o build/cc-heap tools/cc-heap.c
	install -D -m 0755 build/cc-heap $(DESTDIR)$(PREFIX)/bin/cc-heap
	install -D -m 0644 tools/cc-heap.1 $(DESTDIR)$(PREFIX)/share/man/man1/cc-heap.1

# where BASE builds: build/ for 6.12, build/<base>/ for the others
B := build$(if $(filter-out 6.12,$(or $(BASE),6.12)),/$(BASE))

clean:		## remove build output of BASE, keep the extracted tree
	rm -rf $(B)/obj $(B)/obj-debug $(B)/obj-matrix $(B)/initramfs $(B)/hdr $(B)/logs $(B)/logs-debug $(B)/*.gz $(B)/bzImage $(B)/bzImage-debug

distclean:
	rm -rf build
