#!/usr/bin/env python3
"""pca-table.py: the eighth session's tables from p4-margin/pca.txt (rows of
pca-run.sh) and, for the shipped proxy at epsilon 8, p4-margin/augmult.txt's
K = 1 rows.  One line per (config, epsilon, projection, K, proxy rate): mean
accuracies, and P4 - best baseline paired by seed (mean +- standard error,
seeds ahead; per seed), where the best baseline is the best of local-only,
ProxyFL and ProxyFL-avg run with the same proxy ("same proxy"), or the best
of those and the shipped-proxy ProxyFL variants ("any proxy"); and P4 against
P4 with the shipped proxy, paired by seed."""
import collections, os, sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from paired import summary  # noqa: E402
acc = collections.defaultdict(dict)  # (cfg, eps, proj, k, lr, method) -> {seed: acc}
for line in open(os.path.join(here, "augmult.txt")):
    f = line.split()
    if len(f) >= 6 and not line.startswith("#") and f[1] == "1" and ":" not in f[0]:
        acc[(f[0], f[3], "none", "-", "shipped", f[2])][int(f[4])] = float(f[5])
for line in open(os.path.join(here, "pca.txt")):
    f = line.split()
    if len(f) == 9 and not line.startswith("#"):
        acc[(f[0], f[5], f[1], f[2], f[3], f[4])][int(f[6])] = float(f[7])

def local(cfg, seed):  # local-only trains no proxy and spends no budget
    for key, rows in acc.items():
        if key[0] == cfg and key[5] == "local" and seed in rows:
            return rows[seed]
    return None

print("| config | ε | projection | K | proxy rate | seeds | P4 | ProxyFL-avg | ProxyFL | local-only "
      "| P4 − best baseline, same proxy | P4 − best baseline, any proxy | P4 − P4 with the shipped proxy |")
print("| --- " * 13 + "|")
setups = sorted({k[:5] for k in acc if k[5] == "p4"})
for s in setups:
    cfg, eps = s[0], s[1]
    p4 = acc[s + ("p4",)]
    avg, pfl = acc.get(s + ("proxyfl-avg",), {}), acc.get(s + ("proxyfl",), {})
    ship = (cfg, eps, "none", "-", "shipped")
    savg, spfl = acc.get(ship + ("proxyfl-avg",), {}), acc.get(ship + ("proxyfl",), {})
    seeds = sorted(x for x in p4 if x in avg and x in pfl and local(cfg, x) is not None)
    if not seeds:
        continue
    same = [100 * (p4[x] - max(avg[x], pfl[x], local(cfg, x))) for x in seeds]
    anyp = [100 * (p4[x] - max(avg[x], pfl[x], local(cfg, x), savg.get(x, 0), spfl.get(x, 0)))
            for x in seeds if x in savg and x in spfl]
    sp4 = acc.get(ship + ("p4",), {})
    own = [100 * (p4[x] - sp4[x]) for x in seeds if x in sp4]
    mean = lambda d: sum(d[x] for x in seeds) / len(seeds)
    print("| %s | %s | %s | %s | %s | %s | %.4f | %.4f | %.4f | %.4f | %s | %s | %s |" % (
        cfg, eps, s[2], s[3], s[4], ",".join(map(str, seeds)), mean(p4), mean(avg), mean(pfl),
        sum(local(cfg, x) for x in seeds) / len(seeds), summary(same),
        summary(anyp) if len(anyp) == len(seeds) else "n/a",
        summary(own) if len(own) == len(seeds) and s[2] != "none" else "n/a"))
