#!/usr/bin/env python3
"""pretrain-table.py [pretrain.txt]: the ninth session's table from pretrain-run.sh's rows.

Per config, epsilon and P4 setting (proxy_init, private_init, frozen layers, public_count,
pretrain_epochs, proxy_cfg): P4's mean accuracy, each baseline's under the same keys, and
paired per-seed differences in points (mean +- standard error, seeds ahead):
  - P4 - best baseline, same keys: the best per seed of ProxyFL, ProxyFL-avg (same keys) and
    local-only (same private_init; local-only trains no proxy and spends no budget, so its rows
    serve every epsilon);
  - P4 - best baseline, any keys: the best per seed of every baseline row measured for that
    config and epsilon, shipped and pretrained (the strongest fair baseline);
  - P4 - shipped P4 (random proxy and private initialisation)."""
import math, sys
from collections import defaultdict

rows = defaultdict(dict)   # (config, eps, method, variant) -> {seed: acc}
for line in open(sys.argv[1] if len(sys.argv) > 1 else "docs/results/p4-margin/pretrain.txt"):
    if line.startswith("#") or not line.strip():
        continue
    cfg, pinit, vinit, frozen, pub, epochs, pcfg, method, eps, seed, acc, _ = line.split()
    if method == "local":
        pinit, frozen, pcfg = "-", "-", "-"
        eps = "any"
    if pinit in ("random", "-") and vinit == "random":   # nothing pretrained: pub/epochs do not matter
        pub, epochs = "-", "-"
    rows[(cfg, eps, method, (pinit, vinit, frozen, pub, epochs, pcfg))][int(seed)] = float(acc)

def stat(d):
    n = len(d)
    m = sum(d) / n
    se = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1) / n) if n > 1 else float("nan")
    return "%+.2f ± %.2f (%d/%d)" % (100 * m, 100 * se, sum(x > 0 for x in d), n)

def mean(v):
    return "%.4f" % (sum(v) / len(v)) if v else "-"

shipped = ("random", "random", "0", "-", "-", "shipped")
print("| config | ε | proxy_init | private_init | frozen | public | epochs | seeds | P4 | ProxyFL-avg | ProxyFL | local-only (same private_init) | P4 − best, same keys | P4 − best, any keys | P4 − shipped P4 |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for (cfg, eps, method, var), p4 in sorted(rows.items()):
    if method != "p4":
        continue
    seeds = sorted(p4)
    pinit, vinit, frozen, pub, epochs, pcfg = var
    lvar = ("-", vinit, "-", pub if vinit != "random" else "-", epochs if vinit != "random" else "-", "-")
    same = {m: rows.get((cfg, eps, m, var), {}) for m in ("proxyfl-avg", "proxyfl")}
    same["local"] = rows.get((cfg, "any", "local", lvar), {})
    # the strongest fair baseline: every baseline row for this config and epsilon whose
    # pretraining (if any) read the same public set size
    anyb = [d for (c, e, m, v), d in rows.items()
            if c == cfg and m != "p4" and (e == eps or (m == "local" and e == "any"))
            and v[3] in ("-", pub)]
    cols = []
    for dicts, complete in ((list(same.values()), all(all(x in d for x in seeds) for d in same.values())),
                            (anyb, all(x in same["local"] for x in seeds))):
        if not complete:
            cols.append("-")
            continue
        cols.append(stat([p4[x] - max(d[x] for d in dicts if x in d) for x in seeds]))
    base = rows.get((cfg, eps, "p4", shipped), {})
    vs = [p4[s] - base[s] for s in seeds if s in base]
    cols.append(stat(vs) if var != shipped and len(vs) == len(seeds) else "n/a")
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        cfg, eps, pinit, vinit, frozen, pub, epochs, ",".join(map(str, seeds)), mean(list(p4.values())),
        mean([same["proxyfl-avg"][s] for s in seeds if s in same["proxyfl-avg"]]),
        mean([same["proxyfl"][s] for s in seeds if s in same["proxyfl"]]),
        mean([same["local"][s] for s in seeds if s in same["local"]]), *cols))
print()
print("Baselines alone (means over the seeds run):")
for (cfg, eps, method, var), d in sorted(rows.items()):
    if method != "p4":
        print("  %s ε %s %s %s: %s (seeds %s)" % (cfg, eps, method, " ".join(var), mean(list(d.values())),
                                            ",".join(map(str, sorted(d)))))
