#!/usr/bin/env python3
"""wavelet-table.py: the ninth session's table from p4-margin/wavelet.txt
(rows of wavelet-run.sh), with the shipped-proxy rows of earlier sessions
(augmult.txt's K = 1 rows at epsilon 8, pca.txt's `none` rows at epsilon 4)
and local-only from augmult.txt (it trains no proxy and spends no budget, so
its accuracy is the same at every epsilon).  One line per (config, epsilon,
proxy, proxy rate): mean accuracies over the seeds P4 and both ProxyFL
variants ran, P4 - best baseline paired by seed (mean +- standard error,
seeds ahead; per seed), the best baseline being the best of local-only,
ProxyFL and ProxyFL-avg on the same proxy ("same proxy") or also on the
shipped proxy and on the eighth session's 5-seed public-PCA proxy (K = 64;
rate 0.2, or 0.05 on cifar10-p4) ("any proxy"); and P4 against P4 with the shipped proxy."""
import collections, os, sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from paired import summary  # noqa: E402
acc = collections.defaultdict(dict)  # (cfg, eps, proxy, lr, method) -> {seed: acc}
for line in open(os.path.join(here, "augmult.txt")):
    f = line.split()
    if len(f) >= 6 and not line.startswith("#") and f[1] == "1" and ":" not in f[0]:
        acc[(f[0], f[3], "shipped", "shipped", f[2])][int(f[4])] = float(f[5])
pca_rate = {"fmnist-p4": "0.2", "cifar10-p4": "0.05", "femnist-p4": "0.2"}
others = collections.defaultdict(dict)  # (cfg, eps, method) -> {seed: best over other proxies}
for line in open(os.path.join(here, "pca.txt")):
    f = line.split()
    if len(f) == 9 and not line.startswith("#") and f[1] == "none":
        acc[(f[0], f[5], "shipped", "shipped", f[4])].setdefault(int(f[6]), float(f[7]))
    elif len(f) == 9 and not line.startswith("#") and f[1:4] == ["public-pca", "64", pca_rate[f[0]]]:
        # the eighth session's public-PCA proxy at the setting it ran on 5 seeds
        o = others[(f[0], f[5], f[4])]
        o[int(f[6])] = max(o.get(int(f[6]), 0), float(f[7]))
for line in open(os.path.join(here, "wavelet.txt")):
    f = line.split()
    if len(f) == 8 and not line.startswith("#"):
        acc[(f[0], f[4], f[1], f[2], f[3])][int(f[5])] = float(f[6])

def local(cfg, seed):
    for key, rows in acc.items():
        if key[0] == cfg and key[4] == "local" and seed in rows:
            return rows[seed]
    return None

print("| config | ε | proxy | proxy rate | seeds | P4 | ProxyFL-avg | ProxyFL | local-only "
      "| P4 − best baseline, same proxy | P4 − best baseline, any proxy | P4 − P4 with the shipped proxy |")
print("| --- " * 12 + "|")
for s in sorted({k[:4] for k in acc if k[4] == "p4"}):
    cfg, eps = s[0], s[1]
    p4 = acc[s + ("p4",)]
    avg, pfl = acc.get(s + ("proxyfl-avg",), {}), acc.get(s + ("proxyfl",), {})
    ship = (cfg, eps, "shipped", "shipped")
    savg, spfl, sp4 = (acc.get(ship + (m,), {}) for m in ("proxyfl-avg", "proxyfl", "p4"))
    seeds = sorted(x for x in p4 if x in avg and x in pfl and local(cfg, x) is not None)
    if not seeds:
        continue
    same = [100 * (p4[x] - max(avg[x], pfl[x], local(cfg, x))) for x in seeds]
    oavg, opfl = others[(cfg, eps, "proxyfl-avg")], others[(cfg, eps, "proxyfl")]
    anyp = [100 * (p4[x] - max(avg[x], pfl[x], local(cfg, x), savg[x], spfl[x],
                               oavg.get(x, 0), opfl.get(x, 0)))
            for x in seeds if x in savg and x in spfl]
    own = [100 * (p4[x] - sp4[x]) for x in seeds if x in sp4]
    mean = lambda d: sum(d[x] for x in seeds) / len(seeds)
    print("| %s | %s | %s | %s | %s | %.4f | %.4f | %.4f | %.4f | %s | %s | %s |" % (
        cfg, eps, s[2], s[3], ",".join(map(str, seeds)), mean(p4), mean(avg), mean(pfl),
        sum(local(cfg, x) for x in seeds) / len(seeds), summary(same),
        summary(anyp) if len(anyp) == len(seeds) else "n/a",
        summary(own) if len(own) == len(seeds) and s[2] != "shipped" else "n/a"))
# P4 alone where the baselines have not run (screening)
print()
for s in sorted({k[:4] for k in acc if k[4] == "p4" and k[2] != "shipped"}):
    p4, sp4 = acc[s + ("p4",)], acc.get((s[0], s[1], "shipped", "shipped", "p4"), {})
    own = [100 * (p4[x] - sp4[x]) for x in sorted(p4) if x in sp4]
    print("P4 only: %s ε %s %s rate %s seeds %s: mean %.4f; against the shipped proxy %s" % (
        s[0], s[1], s[2], s[3], ",".join(map(str, sorted(p4))), sum(p4.values()) / len(p4),
        summary(own) if own else "n/a"))
# Each method on the wavelet-pca64 proxy against the same method on the eighth
# session's pixel public-pca (K = 64) proxy, paired by seed (cifar10-p4, rate 0.05).
print()
pix = collections.defaultdict(dict)
for line in open(os.path.join(here, "pca.txt")):
    f = line.split()
    if len(f) == 9 and not line.startswith("#") and f[1:4] == ["public-pca", "64", "0.05"]:
        pix[(f[0], f[5], f[4])][int(f[6])] = float(f[7])
for (cfg, eps, method), rows in sorted(pix.items()):
    w = acc.get((cfg, eps, "wavelet-pca64-logreg", "0.05", method), {})
    d = [100 * (w[x] - rows[x]) for x in sorted(w) if x in rows]
    if len(d) > 1:
        print("%s ε %s %s: wavelet-pca64 − public-pca 64 %s" % (cfg, eps, method, summary(d)))
