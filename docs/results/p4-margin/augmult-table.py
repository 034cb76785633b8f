#!/usr/bin/env python3
"""augmult-table.py ROWS: the seventh session's tables from augmult.txt rows
(config K method epsilon seed honest_mean private w0.25 w0.5 w0.75 proxy seconds)."""
import math, sys
from collections import defaultdict

rows = defaultdict(dict)  # (config, K) -> {(method, seed): (acc, proxy)}
for line in open(sys.argv[1]):
    if not line.strip() or line.startswith("#"):
        continue
    f = line.split()
    cfg, k, method, seed = f[0], int(f[1]), f[2], int(f[4])
    rows[(cfg, k)][(method, seed)] = (float(f[5]), float(f[10]))

def mse(v):
    m = sum(v) / len(v)
    se = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1) / len(v)) if len(v) > 1 else float("nan")
    return m, se

for cfg in sorted({c for c, _ in rows}):
    ks = sorted(k for c, k in rows if c == cfg)
    base = cfg.split(":")[0]  # "fmnist-p4:shift2": a variant of the transform
    local = {s: a for (m, s), (a, _) in rows[(base, 1)].items() if m == "local"}
    print(f"\n## {cfg}\n")
    print("| K | seeds | P4 | P4 proxy alone | ProxyFL-avg | ProxyFL | local-only | "
          "P4 − best baseline, same K | P4 − best baseline at K = 1 | P4 − P4 at K = 1 | "
          "P4 proxy − its K = 1 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for k in ks:
        r = rows[(cfg, k)]
        seeds = sorted(s for (m, s) in r if m == "p4" and s in local)
        def acc(m, s, kk=k):
            return rows[(cfg if kk == k else base, kk)][(m, s)][0]
        seeds = [s for s in seeds if ("proxyfl-avg", s) in r
                 and ("proxyfl", s) in rows[(base, 1)] and ("proxyfl-avg", s) in rows[(base, 1)]]
        if ("proxyfl", seeds[0] if seeds else 0) not in r:  # variants: proxyfl at K = 1
            r = dict(r)
            for s in seeds:
                r[("proxyfl", s)] = rows[(base, 1)][("proxyfl", s)]
            rows[(cfg, k)] = r
        if not seeds:
            continue
        same = [acc("p4", s) - max(local[s], acc("proxyfl", s), acc("proxyfl-avg", s)) for s in seeds]
        base1 = [acc("p4", s) - max(local[s], acc("proxyfl", s, 1), acc("proxyfl-avg", s, 1))
                 for s in seeds]
        mean = lambda m: sum(acc(m, s) for s in seeds) / len(seeds)
        proxy = sum(r[("p4", s)][1] for s in seeds) / len(seeds)
        lo = sum(local[s] for s in seeds) / len(seeds)
        a, b = mse([100 * x for x in same]), mse([100 * x for x in base1])
        dp4 = mse([100 * (acc("p4", s) - acc("p4", s, 1)) for s in seeds])
        dpx = mse([100 * (r[("p4", s)][1] - rows[(base, 1)][("p4", s)][1]) for s in seeds])
        ahead = sum(x > 0 for x in same)
        per_seed = ", ".join(f"{100 * x:+.2f}" for x in same)
        print(f"| {k} | {','.join(map(str, seeds))} | {mean('p4'):.4f} | {proxy:.4f} | "
              f"{mean('proxyfl-avg'):.4f} | {mean('proxyfl'):.4f} | {lo:.4f} | "
              f"{a[0]:+.2f} ± {a[1]:.2f} ({ahead}/{len(seeds)}; {per_seed}) | {b[0]:+.2f} ± {b[1]:.2f} | "
              f"{dp4[0]:+.2f} ± {dp4[1]:.2f} | {dpx[0]:+.2f} ± {dpx[1]:.2f} |")
