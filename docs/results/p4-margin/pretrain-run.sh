#!/bin/sh
# pretrain-run.sh CONFIG METHOD SEED EPS PROXY_INIT PRIVATE_INIT FROZEN PUBLIC_N EPOCHS [PROXY_CFG]:
# one seeded run of the ninth session (weights pretrained on the labeled public set), one row:
#   config proxy_init private_init frozen public_n epochs proxy_cfg method epsilon seed
#   honest_mean_accuracy seconds
# PROXY_INIT / PRIVATE_INIT: random | public-pretrain ([model] proxy_init / private_init);
# FROZEN: [model] proxy_frozen_layers; PUBLIC_N: [p4] public_count; EPOCHS: pretrain_epochs;
# PROXY_CFG: a proxy_cfg replacing the shipped one (relative to the config's folder).
# The run is keys-run.sh's (the keys in a copy of the config beside it); this script only
# names the keys and orders the row.  Run from the repository root.
set -eu
cfg=$1 method=$2 seed=$3 eps=$4 pinit=$5 vinit=$6 frozen=$7 pub=$8 epochs=$9 pcfg=${10:-}
set -- model.proxy_init="$pinit" model.private_init="$vinit" model.proxy_frozen_layers="$frozen" \
    model.pretrain_epochs="$epochs" p4.public_count="$pub"
[ -z "$pcfg" ] || set -- "$@" model.proxy_cfg="$pcfg"
row=$(sh "$(dirname "$0")/keys-run.sh" "$cfg" "$method" "$seed" "$eps" "$@")
set -- $row # config method epsilon seed accuracy seconds keys...
echo "$1 $pinit $vinit $frozen $pub $epochs ${pcfg:-shipped} $method $eps $seed $5 $6"
