#!/bin/sh
# wavelet-run.sh CONFIG PROXY METHOD SEED EPS [PROXY_LR]: one seeded run of the
# ninth session (a proxy on a fixed wavelet front end), printing one row:
#   config proxy proxy_lr method epsilon seed honest_mean_accuracy seconds
# PROXY is `shipped` (the file as it is) or a proxy cfg stem under
# configs/models/ without its shape, e.g. wavelet-logreg (then
# proxy_projection = wavelet and proxy_cfg = models/PROXY-<shape>.cfg).  The
# keys go into a copy of the config beside it (relative paths resolve against
# the config's folder); the copy is removed after.  P4 is the binary
# (default build/p4).
set -eu
cfg=$1 proxy=$2 method=$3 seed=$4 eps=$5 lr=${6:-}
bin=${P4:-build/p4}
dir=$(dirname "$cfg")
tmp="$dir/tmp-wavelet-$$.ini"
case "$cfg" in *cifar*) shape=32x32x3 ;; *) shape=28x28x1 ;; esac
cp "$cfg" "$tmp"
if [ "$proxy" != shipped ]; then
    sed -i '/^proxy_cfg *=/d; /^proxy_projection *=/d' "$tmp"
    sed -i "/^\[model\]/a proxy_cfg = models/$proxy-$shape.cfg" "$tmp"
    case "$proxy" in wavelet-pca*) proj=wavelet-pca ;; *) proj=wavelet ;; esac
    sed -i "/^\[model\]/a proxy_projection = $proj" "$tmp"
fi
[ -n "$lr" ] && { sed -i '/^proxy_learning_rate/d' "$tmp"; sed -i "/^\[model\]/a proxy_learning_rate = $lr" "$tmp"; }
out=$(mktemp) errf=$(mktemp)
nice -n 10 "$bin" sim --config "$tmp" --method "$method" --seed "$seed" \
    --epsilon "$eps" --reproducible --json --threads 1 > "$out" 2> "$errf" || {
    echo "run failed: $cfg $proxy $method seed $seed" >&2; cat "$errf" >&2; rm -f "$tmp" "$out" "$errf"; exit 1; }
rm -f "$tmp"
python3 - "$cfg" "$proxy" "${lr:-shipped}" "$method" "$eps" "$seed" "$out" <<'PY'
import json, sys
cfg, proxy, lr, method, eps, seed, out = sys.argv[1:]
d = json.load(open(out))
print(cfg.split("/")[-1].replace(".ini", ""), proxy, lr, method, eps, seed,
      "%.4f" % d["honest_mean_accuracy"], "%.1f" % d["seconds"])
PY
rm -f "$out" "$errf"
