#!/bin/sh
# keys-run.sh CONFIG METHOD SEED EPS [SECTION.KEY=VALUE ...]: one seeded run with the given
# keys set in a copy of the config (placed beside it, so relative paths resolve; removed after),
# one row: config method epsilon seed honest_mean_accuracy seconds SECTION.KEY=VALUE...
# Run from the repository root; P4_BIN picks another binary.
set -eu
cfg=$1 method=$2 seed=$3 eps=$4
shift 4
tmp="$(dirname "$cfg")/tmp-keys-$$.ini"
cp "$cfg" "$tmp"
for kv in "$@"; do
    section=${kv%%.*} rest=${kv#*.}
    key=${rest%%=*} value=${rest#*=}
    grep -q "^\[$section\]" "$tmp" || printf '\n[%s]\n' "$section" >> "$tmp"
    # drop the key from its section only, then add it at the section's top
    awk -v s="[$section]" -v k="$key" '
        /^\[/ { cur = $0 }
        { if (cur == s && $0 ~ "^" k " *=") next; print }' "$tmp" > "$tmp.new"
    mv "$tmp.new" "$tmp"
    sed -i "/^\[$section\]/a $key = $value" "$tmp"
done
out=$(mktemp) errf=$(mktemp)
nice -n 10 ${P4_BIN:-build/p4} sim --config "$tmp" --method "$method" --seed "$seed" \
    --epsilon "$eps" --reproducible --json --threads 1 > "$out" 2> "$errf" || {
    echo "run failed: $cfg $method seed $seed eps $eps $*" >&2; cat "$errf" >&2
    rm -f "$tmp" "$out" "$errf"; exit 1; }
rm -f "$tmp"
python3 - "$cfg" "$method" "$eps" "$seed" "$out" "$@" <<'PY'
import json, sys
cfg, method, eps, seed, out = sys.argv[1:6]
d = json.load(open(out))
print(cfg.split("/")[-1].replace(".ini", ""), method, eps, seed,
      "%.4f" % d["honest_mean_accuracy"], "%.1f" % d["seconds"], *sys.argv[6:])
PY
rm -f "$out" "$errf"
