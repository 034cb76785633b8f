"""ensemble-table.py ROWS...: the tenth session's ensemble summary from ensemble-probe rows
(ensemble-pretrain.txt). Per (config, keys, epsilon): P4 predicting with both models at proxy weight
0.5 against its private model, and against the best baseline per seed: local-only, and ProxyFL-avg
and ProxyFL credited with the better of their private model and their own ensemble at 0.5 (or
with any weight below 1: the strict line)."""
import sys, math, collections
sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
from paired import summary
W = [0, 0.25, 0.5, 0.75, 1]
acc = {}
for fn in sys.argv[1:]:
    for l in open(fn):
        if "|" not in l: continue
        left, right = l.split("|")
        f = left.split(); r = right.split()
        if len(r) != 6: continue
        cfg = f[0].split("/")[-1].replace(".ini", ""); m, eps, seed = f[1], f[2], int(f[3])
        keys = " ".join(f[4:])
        acc[(cfg, keys, eps, m, seed)] = [float(x) for x in r[1:]]
cells = collections.OrderedDict()
for (cfg, keys, eps, m, seed) in acc:
    cells.setdefault((cfg, keys, eps), set()).add(seed)
for (cfg, keys, eps), seeds in cells.items():
    def get(m, s):
        v = acc.get((cfg, keys, eps, m, s))
        if v is None and m == "local":
            for e2 in ("8", "4"):
                v = v or acc.get((cfg, keys, e2, m, s))
        return v
    ok = [s for s in sorted(seeds) if get("p4", s) and get("proxyfl-avg", s) and get("local", s)]
    if not ok: continue
    hasfl = all(get("proxyfl", s) for s in ok)
    p4w = [get("p4", s)[2] for s in ok]
    p4p = [get("p4", s)[0] for s in ok]
    def base(s, strict):
        c = [get("local", s)[0]]
        for m in ["proxyfl-avg"] + (["proxyfl"] if hasfl else []):
            v = get(m, s)
            c += v[:4] if strict else [v[0], v[2]]   # strict: any w < 1 (w=1 is the proxy alone)
        return max(c)
    fair = [100 * (p4w[i] - base(s, False)) for i, s in enumerate(ok)]
    strict = [100 * (p4w[i] - base(s, True)) for i, s in enumerate(ok)]
    gain = [100 * (p4w[i] - p4p[i]) for i in range(len(ok))]
    mean = lambda m, j: sum(get(m, s)[j] for s in ok) / len(ok)
    print("%s eps %s %s seeds %s%s" % (cfg, eps, "pretrain" if "pretrain" in keys else "shipped", ok, "" if hasfl else " (no proxyfl)"))
    print("   P4 private %.4f ens0.5 %.4f proxy %.4f | PFL-avg private %.4f ens %.4f | %s local %.4f" % (
        mean("p4", 0), mean("p4", 2), mean("p4", 4), mean("proxyfl-avg", 0), mean("proxyfl-avg", 2),
        ("PFL private %.4f ens %.4f |" % (mean("proxyfl", 0), mean("proxyfl", 2))) if hasfl else "", mean("local", 0)))
    print("   P4 ens − P4 private %s" % summary(gain))
    print("   P4 ens − best (private or ens 0.5) %s" % summary(fair))
    print("   P4 ens − best (any w<1)          %s" % summary(strict))
