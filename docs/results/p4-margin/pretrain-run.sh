#!/bin/sh
# pretrain-run.sh CONFIG METHOD SEED EPS PROXY_INIT PRIVATE_INIT FROZEN PUBLIC_N EPOCHS [PROXY_CFG]:
# one seeded run of the ninth session (weights pretrained on the labeled public set), one row:
#   config proxy_init private_init frozen public_n epochs proxy_cfg method epsilon seed
#   honest_mean_accuracy seconds
# PROXY_INIT / PRIVATE_INIT: random | public-pretrain ([model] proxy_init / private_init);
# FROZEN: [model] proxy_frozen_layers; PUBLIC_N: [p4] public_count; EPOCHS: pretrain_epochs;
# PROXY_CFG: a proxy_cfg replacing the shipped one (relative to the config's folder).
# The keys go into a copy of the config beside it (relative paths resolve against the
# config's folder); the copy is removed after.  Run from the repository root.
set -eu
cfg=$1 method=$2 seed=$3 eps=$4 pinit=$5 vinit=$6 frozen=$7 pub=$8 epochs=$9 pcfg=${10:-}
dir=$(dirname "$cfg")
tmp="$dir/tmp-pretrain-$$.ini"
cp "$cfg" "$tmp"
sed -i "/^\[model\]/a proxy_init = $pinit\nprivate_init = $vinit\nproxy_frozen_layers = $frozen\npretrain_epochs = $epochs" "$tmp"
if [ -n "$pcfg" ]; then
    sed -i '/^proxy_cfg *=/d' "$tmp"
    sed -i "/^\[model\]/a proxy_cfg = $pcfg" "$tmp"
fi
sed -i '/^public_count/d' "$tmp"
sed -i "/^\[p4\]/a public_count = $pub" "$tmp"
out=$(mktemp) errf=$(mktemp)
nice -n 10 ${P4_BIN:-build/p4} sim --config "$tmp" --method "$method" --seed "$seed" \
    --epsilon "$eps" --reproducible --json --threads 1 > "$out" 2> "$errf" || {
    echo "run failed: $cfg $method seed $seed eps $eps $pinit $vinit $frozen" >&2; cat "$errf" >&2
    rm -f "$tmp" "$out" "$errf"; exit 1; }
rm -f "$tmp"
python3 - "$cfg" "$pinit" "$vinit" "$frozen" "$pub" "$epochs" "${pcfg:-shipped}" "$method" "$eps" "$seed" "$out" <<'PY'
import json, sys
cfg, pinit, vinit, frozen, pub, epochs, pcfg, method, eps, seed, out = sys.argv[1:]
d = json.load(open(out))
print(cfg.split("/")[-1].replace(".ini", ""), pinit, vinit, frozen, pub, epochs, pcfg, method, eps,
      seed, "%.4f" % d["honest_mean_accuracy"], "%.1f" % d["seconds"])
PY
rm -f "$out" "$errf"
