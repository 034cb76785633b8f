#!/bin/sh
# augmult-run.sh CONFIG K METHOD SEED EPS: one seeded run of the seventh session
# (augmentation multiplicity) with the ensemble probe applied
# (docs/results/p4-margin/ensemble-probe.patch), printing one row:
#   config K method epsilon seed honest_mean_accuracy private w0.25 w0.5 w0.75 proxy seconds
# where private..proxy are the client means of the probe's last ENS block.
# [dp] augmentations = K goes into a copy of the config beside it (relative
# paths resolve against the config's folder); the copy is removed after.
set -eu
cfg=$1 k=$2 method=$3 seed=$4 eps=$5
dir=$(dirname "$cfg")
tmp="$dir/tmp-augmult-$$-K$k.ini"
sed "/^\[dp\]/a augmentations = $k" "$cfg" > "$tmp"
out=$(mktemp) errf=$(mktemp)
P4_ENS_PROBE=1 nice -n 10 build/p4 sim --config "$tmp" --method "$method" --seed "$seed" \
    --epsilon "$eps" --reproducible --json --threads 1 > "$out" 2> "$errf" || {
    echo "run failed: $cfg K=$k $method seed $seed" >&2; cat "$errf" >&2; rm -f "$tmp" "$out" "$errf"; exit 1; }
rm -f "$tmp"
python3 - "$cfg" "$k" "$method" "$eps" "$seed" "$out" "$errf" <<'PY'
import json, re, sys
cfg, k, method, eps, seed, out, errf = sys.argv[1:]
d = json.load(open(out))
# ENS lines can share a line with other stderr output: match them exactly.
ens = re.findall(r"ENS (\d+)" + r" (\d\.\d{4})" * 5, open(errf).read())
last = {}
for row in ens:  # the last block: each client's last ENS line
    last[int(row[0])] = [float(v) for v in row[1:6]]
cols = [sum(v[j] for v in last.values()) / len(last) for j in range(5)] if last else [float("nan")] * 5
name = cfg.split("/")[-1].replace(".ini", "")
print(name, k, method, eps, seed, "%.4f" % d["honest_mean_accuracy"],
      " ".join("%.4f" % c for c in cols), "%.1f" % d["seconds"])
PY
rm -f "$out" "$errf"
