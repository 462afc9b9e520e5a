#!/usr/bin/env python3
"""tools/xdpswap/summarize.py [results.tsv] -- crashes per 1000 swaps per (kernel, vCPUs, TCG
threads) under veth traffic; then one row per (kernel, cpus, tcg thread, method,
traffic): VM runs, guest crashes (the int3 oops), boot failures (the guest died before the
reproducer started), swaps done in all runs, swaps per crash, VM wall time (all runs)."""
import collections, sys

path = sys.argv[1] if len(sys.argv) > 1 else __file__.rsplit('/', 1)[0] + '/results.tsv'
cells = collections.OrderedDict()
for line in open(path):
    f = line.rstrip('\n').split('\t')
    if len(f) < 10:
        continue
    kver, cpus, thread, method, traffic, asked, rc, res, done, wall = f[:10]
    crash = f[10] if len(f) > 10 else ''
    series = '6.12' if kver.startswith('6.12') else '6.1' if kver.startswith('6.1') else kver
    key = (series, cpus, thread, method, traffic)
    c = cells.setdefault(key, dict(runs=0, crash=0, boot=0, swaps=0, wall=0, at=[], other=0))
    if res == 'FAIL':  # the reproducer itself failed (2 early `ip` runs: a syntax error, fixed)
        continue
    booted = '-' in kver  # the reproducer printed the full kernel version (6.1.0-57-amd64)
    if res == 'CRASH' and not booted:
        c['boot'] += 1
        c['wall'] += int(wall)
        continue
    c['runs'] += 1
    c['swaps'] += int(done)
    c['wall'] += int(wall)
    if res == 'CRASH':
        if 'int3' in crash:
            c['crash'] += 1
            c['at'].append(done)
        else:
            c['other'] += 1
tot = collections.defaultdict(lambda: [0, 0, 0])
for (k, cpus, thread, method, traffic), c in cells.items():
    if traffic == 'testrun':  # no veth traffic: summed apart
        continue
    t = tot[(k, cpus, thread)]
    t[0] += c['crash']; t[1] += c['swaps'] + 25 * c['crash']; t[2] += c['wall']
print('| kernel | vCPUs | TCG threads | int3 crashes | swaps under veth traffic (all methods; +25 per crash) | crashes per 1000 swaps | VM wall s |')
print('|---|---|---|---|---|---|---|')
for (k, cpus, thread), (cr, sw, wall) in tot.items():
    print('| %s | %s | %s | %d | %d | %.1f | %d |' % (k, cpus, thread, cr, sw, 1000.0 * cr / sw if sw else 0, wall))
print()
print('| kernel | vCPUs | TCG threads | swap method | traffic | VM runs | int3 crashes | swaps done (total) | crashed in swaps (N+1..N+50) | VM wall s (total) | boot failures |')
print('|---|---|---|---|---|---|---|---|---|---|---|')
for (k, cpus, thread, method, traffic), c in cells.items():
    print('| %s | %s | %s | %s | %s | %d | %d%s | %d | %s | %d | %d |' % (
        k, cpus, thread, method, traffic, c['runs'], c['crash'],
        (' (+%d other)' % c['other']) if c['other'] else '', c['swaps'],
        ', '.join(c['at']) or '-', c['wall'], c['boot']))
