#!/bin/sh
# wavelet-run.sh CONFIG PROXY METHOD SEED EPS [PROXY_LR]: one seeded run of the
# ninth session (a proxy on a fixed wavelet front end), printing one row:
#   config proxy proxy_lr method epsilon seed honest_mean_accuracy seconds
# PROXY is `shipped` (the file as it is) or a proxy cfg stem under
# configs/models/ without its shape, e.g. wavelet-logreg (then
# proxy_projection = wavelet and proxy_cfg = models/PROXY-<shape>.cfg).  The
# run is keys-run.sh's (the keys in a copy of the config beside it); this
# script only names the keys and orders the row.  P4 is the binary (default
# build/p4).
set -eu
cfg=$1 proxy=$2 method=$3 seed=$4 eps=$5 lr=${6:-}
case "$cfg" in *cifar*) shape=32x32x3 ;; *) shape=28x28x1 ;; esac
set --
if [ "$proxy" != shipped ]; then
    case "$proxy" in wavelet-pca*) proj=wavelet-pca ;; *) proj=wavelet ;; esac
    set -- model.proxy_cfg="models/$proxy-$shape.cfg" model.proxy_projection="$proj"
fi
[ -z "$lr" ] || set -- "$@" model.proxy_learning_rate="$lr"
row=$(P4_BIN=${P4:-${P4_BIN:-build/p4}} sh "$(dirname "$0")/keys-run.sh" "$cfg" "$method" "$seed" \
    "$eps" "$@")
set -- $row # config method epsilon seed accuracy seconds keys...
echo "$1 $proxy ${lr:-shipped} $method $eps $seed $5 $6"
