#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarize the serial logs of test VM runs.

usage: summarize.py KUNIT_PY RUN=LOG[:kunit|:host] ...

For every run it counts: the VM reached its end marker; the kernel printed
no warning, oops, lockdep report or IOMMU fault; the KUnit results (parsed
by the kernel tree's own kunit.py) when the run is marked :kunit; and every TAP
result of the test programs the VM ran. A :host log holds only test
program sections run on the host. Prints each failure, then one
closing line "N passed, N failed, N skipped". Exits 1 on any failure.
"""
import json
import re
import subprocess
import sys
import tempfile

KERNEL_TROUBLE = re.compile(
    r'(WARNING:|BUG:|Oops|Kernel panic|UBSAN:|kernel BUG|'
    r'INFO: task .* blocked|possible recursive locking|'
    r'circular locking dependency|suspicious RCU usage|Call Trace:|'
    r'Out of memory|invoked oom-killer|DMA-API: .*(device driver|exceeded)|'
    r'ODEBUG: |'
    r'unreferenced object|suspected memory leak|'
    # a device's DMA the IOMMU stopped (Intel, virtio-iommu, AMD, any)
    r'DMAR: \[DMA (Read|Write)|DMAR: DRHD: handling fault|'
    r'viommu.*fault|fault from EP \d+|[Ii][Oo][Mm][Mm][Uu] fault|'
    r'IO_PAGE_FAULT|'
    # the same seen by QEMU, whose messages share the serial log: a DMA
    # its IOMMU could not translate, edu handed an address beyond its mask
    r'detected translation failure|EDU: (clamping|DMA range))')
TAP_RESULT = re.compile(r'^(not )?ok \d+ (\S+)(.*)$')
KTAP_LINE = re.compile(r'^(\[[ 0-9.]+\] )?\s*'
                       r'(KTAP version|TAP version|\d+\.\.\d+|(not )?ok \d+|# )')


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []
        self.groups = {}    # "6.12" of "6.12/emulated: ...": [pass, fail, skip]

    def add(self, name, status, why=''):
        group = self.groups.setdefault(name.split('/', 1)[0]
                                       if '/' in name.split(':')[0]
                                       else None, [0, 0, 0])
        if status == 'PASS':
            self.passed += 1
            group[0] += 1
        elif status == 'SKIP':
            self.skipped += 1
            group[2] += 1
        else:
            self.failed += 1
            group[1] += 1
            self.failures.append(f'{name}: {why or status}')


def kunit_cases(group, prefix=''):
    name = f"{prefix}{group['name']}"
    for case in group.get('test_cases', []):
        yield f"{name}.{case['name']}", case['status']
    for sub in group.get('sub_groups', []):
        yield from kunit_cases(sub, f'{name}.' if prefix or
                               group['name'] != 'KUnit Test Group' else '')


def parse_ktap(kunit_py, ktap):
    """KUnit cases of KTAP lines, as (name, status), by the tree's kunit.py."""
    with tempfile.NamedTemporaryFile('w', suffix='.log') as log, \
         tempfile.NamedTemporaryFile(suffix='.json') as out:
        log.write('\n'.join(ktap) + '\n')
        log.flush()
        subprocess.run([sys.executable, kunit_py, 'parse', f'--json={out.name}',
                        log.name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        try:
            with open(out.name) as f:
                results = json.load(f)
        except (OSError, ValueError):
            results = {}
    return list(kunit_cases(results)) if results else []


def rerun_sections(lines):
    """Sections kunit-<suite>: a suite run again from debugfs after boot."""
    name, body = None, []
    for line in lines:
        if line.startswith('CCSH-BEGIN kunit-'):
            name, body = line.split()[1], []
        elif name and line.startswith(f'CCSH-END {name} '):
            yield name, body
            name = None
        elif name:
            body.append(line)


def count_kunit(tally, kunit_py, run, lines):
    # kunit.py takes everything after the first KTAP line as KTAP, and a
    # driver's message landing between a KTAP header and its subtest lines
    # derails it. Give it the kernel's KTAP lines only, without the test
    # programs' TAP that follows the boot.
    boot = []
    for line in lines:
        if line.startswith('CCSH-BEGIN '):
            break
        if KTAP_LINE.match(line):
            boot.append(line)
    cases = parse_ktap(kunit_py, boot)
    if not cases:
        tally.add(f'{run}: kunit', 'FAIL', 'no KUnit results in the log')
    for name, status in cases:
        tally.add(f'{run}: kunit {name}', 'SKIP' if status == 'SKIPPED'
                  else status)
    for section, body in rerun_sections(lines):
        cases = parse_ktap(kunit_py, [l for l in body if KTAP_LINE.match(l)])
        if not cases:
            tally.add(f'{run}: {section}', 'FAIL', 'no KUnit results')
        for name, status in cases:
            tally.add(f'{run}: {section} {name}',
                      'SKIP' if status == 'SKIPPED' else status)


def count_programs(tally, run, lines):
    current, results = None, 0
    for line in lines:
        if line.startswith('CCSH-BEGIN kunit-'):
            current = None      # KTAP: counted by count_kunit
            continue
        if line.startswith('CCSH-BEGIN '):
            current, results, failed = line.split()[1], 0, 0
            continue
        if current is None:
            continue
        if line.startswith(f'CCSH-END {current} '):
            rc = int(line.rsplit('rc=', 1)[1])
            if results == 0 or (rc != 0 and not failed):
                tally.add(f'{run}: {current}', 'FAIL',
                          f'exit status {rc}, {results} results')
            current = None
            continue
        m = TAP_RESULT.match(line)
        if not m:
            continue
        results += 1
        status = 'FAIL' if m.group(1) else (
            'SKIP' if '# SKIP' in m.group(3) else 'PASS')
        failed += status == 'FAIL'
        tally.add(f'{run}: {current} {m.group(2)}', status)
    if current is not None:
        tally.add(f'{run}: {current}', 'FAIL', 'ended without its end marker')


def count_vm(tally, run, lines):
    done = any(line.startswith('CCSH-VM-DONE') for line in lines)
    tally.add(f'{run}: VM boots, runs its tests and powers off',
              'PASS' if done else 'FAIL', 'no end marker (timeout or panic)')
    trouble = [line for line in lines if KERNEL_TROUBLE.search(line)]
    tally.add(f'{run}: kernel log free of warnings and oopses',
              'FAIL' if trouble else 'PASS', trouble[0] if trouble else '')


def count_run(tally, kunit_py, spec):
    run, rest = spec.split('=', 1)
    log, _, flags = rest.partition(':')
    try:
        with open(log, errors='replace') as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    if not lines:
        tally.add(f'{run}: log', 'FAIL', f'no log {log}')
        return
    if 'host' not in flags.split(','):
        count_vm(tally, run, lines)
    if 'kunit' in flags.split(','):
        count_kunit(tally, kunit_py, run, lines)
    count_programs(tally, run, lines)


def main():
    tally = Tally()
    for spec in sys.argv[2:]:
        count_run(tally, sys.argv[1], spec)
    for failure in tally.failures:
        print(f'FAIL {failure}')
    for group, (p, f, s) in tally.groups.items():
        if group:
            print(f'{group}: {p} passed, {f} failed, {s} skipped')
    print(f'{tally.passed} passed, {tally.failed} failed, '
          f'{tally.skipped} skipped')
    return 1 if tally.failed else 0


if __name__ == '__main__':
    sys.exit(main())
