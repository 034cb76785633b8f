#!/bin/sh
# pca-run.sh CONFIG PROJECTION K METHOD SEED EPS [PROXY_LR]: one seeded run of the
# eighth session (a proxy on public PCA features), printing one row:
#   config projection K proxy_lr method epsilon seed honest_mean_accuracy seconds
# PROJECTION is none (the shipped proxy_cfg, K ignored), public-pca or
# public-pca-whiten (proxy_cfg = models/pcaK-logreg-<shape>.cfg).  The keys go
# into a copy of the config beside it (relative paths resolve against the
# config's folder); the copy is removed after.
set -eu
cfg=$1 proj=$2 k=$3 method=$4 seed=$5 eps=$6 lr=${7:-}
dir=$(dirname "$cfg")
tmp="$dir/tmp-pca-$$.ini"
shape=$(grep -o 'logreg-[0-9x]*\.cfg\|cnn[12]-[0-9x]*\.cfg\|mlp-[0-9x]*\.cfg' "$cfg" | tail -1 | sed 's/.*-\([0-9x]*\)\.cfg/\1/')
cp "$cfg" "$tmp"
if [ "$proj" != none ]; then
    sed -i '/^proxy_cfg *=/d' "$tmp" # the shipped proxy_cfg, or none (= cfg)
    sed -i "/^\[model\]/a proxy_cfg = models/pca$k-logreg-$shape.cfg" "$tmp"
    sed -i "/^\[model\]/a proxy_projection = $proj" "$tmp"
fi
[ -n "$lr" ] && { sed -i '/^proxy_learning_rate/d' "$tmp"; sed -i "/^\[model\]/a proxy_learning_rate = $lr" "$tmp"; }
out=$(mktemp) errf=$(mktemp)
nice -n 10 build/p4 sim --config "$tmp" --method "$method" --seed "$seed" \
    --epsilon "$eps" --reproducible --json --threads 1 > "$out" 2> "$errf" || {
    echo "run failed: $cfg $proj K=$k $method seed $seed" >&2; cat "$errf" >&2; rm -f "$tmp" "$out" "$errf"; exit 1; }
rm -f "$tmp"
python3 - "$cfg" "$proj" "$k" "${lr:-shipped}" "$method" "$eps" "$seed" "$out" <<'PY'
import json, sys
cfg, proj, k, lr, method, eps, seed, out = sys.argv[1:]
d = json.load(open(out))
print(cfg.split("/")[-1].replace(".ini", ""), proj, k if proj != "none" else "-", lr, method, eps,
      seed, "%.4f" % d["honest_mean_accuracy"], "%.1f" % d["seconds"])
PY
rm -f "$out" "$errf"
