"""pubkd-table.py ROWS: the tenth session's table from keys-run.sh rows (the probe
pubkd-probe.patch applied: [p4] private_public_kd), keyed by model.proxy_init and
p4.private_public_kd.

Per (config, epsilon, init): mean accuracy of P4 and ProxyFL-avg without and with the channel
and of local-only, then paired per seed (points): P4 with the channel minus P4 without it,
ProxyFL-avg with minus without, and P4 with the channel minus the best of ProxyFL-avg
(without it, as published) and local-only."""
import collections
import sys

from paired import summary

acc = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 6 or f[0].startswith("#"):
        continue
    cfg, method, eps, seed, a = f[:5]
    keys = dict(kv.split("=", 1) for kv in f[6:])
    init, kd = keys.get("model.proxy_init", "random"), int(keys.get("p4.private_public_kd", 0))
    acc[(cfg, eps, init, method, kd, int(seed))] = float(a)

cells = collections.OrderedDict()
for (cfg, eps, init, method, kd, seed) in acc:
    cells.setdefault((cfg, eps, init), set()).add(seed)

print("| config | ε | init | P4 | P4 + channel | ProxyFL-avg | ProxyFL-avg + channel | local-only "
      "| P4: channel − none | ProxyFL-avg: channel − none | P4 + channel − best baseline |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for (cfg, eps, init), seeds in cells.items():
    seeds = sorted(s for s in seeds if all((cfg, eps, init, m, k, s) in acc for m, k in
                   [("p4", 0), ("p4", 1), ("proxyfl-avg", 0), ("proxyfl-avg", 1), ("local", 0)]))
    if not seeds:
        continue
    def mean(m, k):
        return sum(acc[(cfg, eps, init, m, k, s)] for s in seeds) / len(seeds)
    def diff(a, b):
        return [100 * (a(s) - b(s)) for s in seeds]
    g = lambda m, k: (lambda s: acc[(cfg, eps, init, m, k, s)])
    best = lambda s: max(acc[(cfg, eps, init, "proxyfl-avg", 0, s)], acc[(cfg, eps, init, "local", 0, s)])
    print("| %s | %s | %s | %.4f | %.4f | %.4f | %.4f | %.4f | %s | %s | %s |" % (
        cfg, eps, init, mean("p4", 0), mean("p4", 1), mean("proxyfl-avg", 0),
        mean("proxyfl-avg", 1), mean("local", 0),
        summary(diff(g("p4", 1), g("p4", 0))), summary(diff(g("proxyfl-avg", 1), g("proxyfl-avg", 0))),
        summary(diff(g("p4", 1), best))))
