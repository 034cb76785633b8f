#!/usr/bin/python3
"""PyTorch peer of p4's training benchmark.

Runs the same work as p4 -- plain SGD or DP-SGD steps on a darknet model from
configs/models/ -- on synthetic data of the right shape, and prints one JSON
line per measurement.  Run bench/setup first (Debian's python3-torch 1.13 lives
in /usr/bin/python3, not in a pyenv/venv python3 that may come first on PATH).

Per-example gradients (DP mode) use functorch's vmap(grad(loss)) over
make_functional(model), the fastest per-example path torch 1.13 offers
(torch.func only exists from torch 2.0; Debian's python3-torch ships the
functorch package).  A correctness check at start asserts that the vmap
per-example gradients, summed, equal the batch gradient, on the very
function that is timed.
"""

import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    from functorch import grad, make_functional, vmap
except ImportError:  # pragma: no cover - Debian 12's python3-torch ships functorch
    sys.exit("torch_peer: functorch is missing; run bench/setup and use /usr/bin/python3")

PER_EXAMPLE = "functorch.vmap(grad)"
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CFG_DIR = os.path.join(HERE, "..", "configs", "models")


# --- darknet cfg -> torch module ---------------------------------------------

def read_cfg(path):
    """Sections of a darknet cfg as [(name, {key: value})], comments dropped."""
    sections = []
    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("["):
                if not line.endswith("]"):
                    raise ValueError("%s:%d: bad section header" % (path, lineno))
                sections.append((line[1:-1].strip(), {}))
            elif "=" in line and sections:
                k, v = line.split("=", 1)
                sections[-1][1][k.strip()] = v.strip()
            else:
                raise ValueError("%s:%d: expected [section] or key=value" % (path, lineno))
    return sections


def activation(name, where):
    if name == "relu":
        return [nn.ReLU()]
    if name == "linear":
        return []
    raise ValueError("%s: activation=%s is not supported by the peer" % (where, name))


def build_model(path, classes):
    """The cfg's network as nn.Sequential, with darknet's shape rules:
    conv pad=1 means padding size/2; maxpool pads size-1 at the bottom/right
    (same as ceil_mode); the final [softmax] is folded into the cross-entropy
    loss.  Returns (model, (channels, height, width))."""
    sections = read_cfg(path)
    if not sections or sections[0][0] not in ("net", "network"):
        raise ValueError("%s: first section must be [net]" % path)
    net = sections[0][1]
    c, h, w = int(net["channels"]), int(net["height"]), int(net["width"])
    shape = (c, h, w)
    layers = []
    flat = False
    for i, (kind, o) in enumerate(sections[1:], 1):
        where = "%s [%s] #%d" % (path, kind, i)
        if kind in ("convolutional", "conv"):
            filters, size = int(o["filters"]), int(o["size"])
            stride, pad = int(o.get("stride", 1)), int(o.get("pad", 0))
            padding = size // 2 if pad else 0
            layers.append(nn.Conv2d(c, filters, size, stride=stride, padding=padding))
            layers += activation(o.get("activation", "logistic"), where)
            h = (h + 2 * padding - size) // stride + 1
            w = (w + 2 * padding - size) // stride + 1
            c = filters
        elif kind in ("maxpool", "max"):
            size, stride = int(o.get("size", 2)), int(o.get("stride", 2))
            if size != stride:
                raise ValueError("%s: only size == stride maxpool is mapped" % where)
            layers.append(nn.MaxPool2d(size, stride, ceil_mode=True))
            h = (h + size - 1 - size) // stride + 1
            w = (w + size - 1 - size) // stride + 1
        elif kind == "connected":
            out = classes if o["output"] == "classes" else int(o["output"])
            if not flat:
                layers.append(nn.Flatten())  # NCHW flatten = darknet's CHW order
                flat = True
            layers.append(nn.Linear(c * h * w, out))
            layers += activation(o.get("activation", "logistic"), where)
            c, h, w = out, 1, 1
        elif kind in ("softmax", "soft"):
            if i != len(sections) - 1:
                raise ValueError("%s: [softmax] must be last" % where)
        else:
            raise ValueError("%s: layer type not supported by the peer" % where)
    if c != classes or h != 1 or w != 1:
        raise ValueError("%s: network does not end in %d outputs" % (path, classes))
    return nn.Sequential(*layers), shape


# --- one training step ------------------------------------------------------

def plain_step(model, opt, x, y):
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()


class DPSGD:
    """Per-example grads by vmap(grad), clip each example's whole gradient to
    L2 norm `clip`, sum, add N(0, (sigma*clip)^2) per coordinate, divide by
    the batch size, SGD step -- the steps p4's dp/dpsgd.c takes."""

    def __init__(self, model, lr, clip, sigma, seed):
        self.fmodel, params = make_functional(model)
        self.params = tuple(p.detach() for p in params)
        self.lr, self.clip, self.sigma = lr, clip, sigma
        self.noise_gen = torch.Generator().manual_seed(seed + 1)

        def loss_one(params, x, y):
            logits = self.fmodel(params, x.unsqueeze(0))
            return F.cross_entropy(logits, y.unsqueeze(0))

        self.loss_one = loss_one
        self.per_example_grads = vmap(grad(loss_one), in_dims=(None, 0, 0))

    def clipped_sum(self, grads):
        """(sum_i clip_i * g_i per parameter, clip factors).  Norms and the
        weighted sum go through BLAS (vector_norm, mv): about 3x faster than
        pow().sum() + einsum on the materialised per-example gradients."""
        n = grads[0].shape[0]
        flat = [g.reshape(n, -1) for g in grads]
        sq = torch.zeros(n)
        for f in flat:
            sq += torch.linalg.vector_norm(f, dim=1).square()
        scale = (self.clip / (sq.sqrt() + 1e-12)).clamp(max=1.0)
        return [(scale @ f).view(g.shape[1:]) for f, g in zip(flat, grads)], scale

    def step(self, x, y):
        grads = self.per_example_grads(self.params, x, y)
        sums, _ = self.clipped_sum(grads)
        n = x.shape[0]
        new = []
        with torch.no_grad():
            for p, s in zip(self.params, sums):
                noise = torch.randn(p.shape, generator=self.noise_gen) * (self.sigma * self.clip)
                new.append(p - self.lr * (s + noise) / n)
        self.params = tuple(new)


def check_per_example(dp, shape, classes, gen):
    """The timed path is the real one: summed vmap per-example gradients equal
    the gradient of the summed loss, and clipping leaves norms <= clip."""
    n = 5
    x = torch.rand((n,) + shape, generator=gen)
    y = torch.randint(0, classes, (n,), generator=gen)
    per = dp.per_example_grads(dp.params, x, y)
    params = [p.detach().clone().requires_grad_(True) for p in dp.params]
    loss = sum(dp.loss_one(params, x[i], y[i]) for i in range(n))
    batch = torch.autograd.grad(loss, params)
    for i, (g, b) in enumerate(zip(per, batch)):
        assert g.shape == (n,) + b.shape, "per-example grad %d has shape %s" % (i, tuple(g.shape))
        torch.testing.assert_close(g.sum(0), b, rtol=1e-4, atol=1e-5,
                                   msg="per-example grads of param %d do not sum to the batch grad" % i)
    # one example alone must match its own autograd gradient too
    one = torch.autograd.grad(dp.loss_one(params, x[0], y[0]), params)
    for g, b in zip(per, one):
        torch.testing.assert_close(g[0], b, rtol=1e-4, atol=1e-5)
    big = [g * 100.0 for g in per]  # force clipping
    _, scale = dp.clipped_sum(big)
    norms = torch.zeros(n)
    for g in big:
        norms += (g * scale.view((n,) + (1,) * (g.dim() - 1))).reshape(n, -1).pow(2).sum(1)
    assert bool((norms.sqrt() <= dp.clip * (1 + 1e-4)).all()), "clipping left a norm above clip"


# --- measurement ------------------------------------------------------------

def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


# Equal-time stretches of a --seconds run (see main).
STRETCHES = 5


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch peer of p4's training benchmark")
    ap.add_argument("--model", required=True,
                    help="cfg name in configs/models, e.g. mlp-28x28x1, lenet5-28x28x1, "
                         "cnn1-28x28x1, cnn1-32x32x3, cnn2-32x32x3")
    ap.add_argument("--mode", choices=("plain", "dp"), default="plain")
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--steps", type=int, default=None,
                    help="timed steps after warm-up (default 20 unless --seconds is given)")
    ap.add_argument("--seconds", type=float, default=None,
                    help="time budget for the timed steps, in %d stretches whose fastest "
                         "gives examples_per_s (stops at whichever of --steps/--seconds "
                         "comes first; at least one step)" % STRETCHES)
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--clip", type=float, default=1.0, help="DP clip norm C")
    ap.add_argument("--sigma", type=float, default=1.0, help="DP noise multiplier")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cfg-dir", default=DEFAULT_CFG_DIR)
    a = ap.parse_args(argv)
    if a.batch < 1 or a.threads < 1 or a.warmup < 0:
        ap.error("--batch and --threads must be >= 1, --warmup >= 0")
    if a.steps is None and a.seconds is None:
        a.steps = 20
    if a.steps is not None and a.steps < 1:
        ap.error("--steps must be >= 1")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)

    cfg = os.path.join(a.cfg_dir, a.model + ".cfg")
    if not os.path.isfile(cfg):
        ap.error("no model cfg %s" % cfg)
    model, shape = build_model(cfg, a.classes)
    params = sum(p.numel() for p in model.parameters())

    # A small synthetic "dataset" of 4 batches, cycled: inputs in [0,1], labels uniform.
    pool = 4 * a.batch
    xs = torch.rand((pool,) + shape, generator=gen)
    ys = torch.randint(0, a.classes, (pool,), generator=gen)

    def batch(i):
        k = (i % 4) * a.batch
        return xs[k:k + a.batch], ys[k:k + a.batch]

    if a.mode == "plain":
        opt = torch.optim.SGD(model.parameters(), lr=a.lr)
        step = lambda x, y: plain_step(model, opt, x, y)
    else:
        dp = DPSGD(model, a.lr, a.clip, a.sigma, a.seed)
        check_per_example(dp, shape, a.classes, gen)
        step = dp.step

    for i in range(a.warmup):
        step(*batch(i))

    load = os.getloadavg()[0]  # other work on the machine skews the figures
    # With --seconds, the run is cut into STRETCHES of about equal time, as
    # bench_train does: examples_per_s is the fastest stretch's rate,
    # examples_per_s_mean the whole run's (this machine's speed drifts).
    stretch_len = a.seconds / STRETCHES if a.seconds is not None else None
    best, stretches, stretch_steps = 0.0, 0, 0
    done = 0
    t0 = time.perf_counter()
    stretch_t0 = t0
    while True:
        step(*batch(a.warmup + done))
        done += 1
        now = time.perf_counter()
        elapsed = now - t0
        if stretch_len is not None:
            stretch_steps += 1
            if now - stretch_t0 >= stretch_len:
                best = max(best, stretch_steps / (now - stretch_t0))
                stretches += 1
                stretch_t0, stretch_steps = now, 0
        if a.steps is not None and done >= a.steps:
            break
        if stretch_len is not None and stretches >= STRETCHES:
            break

    mean = done * a.batch / elapsed
    out = {
        "model": a.model,
        "mode": a.mode,
        "impl": "torch",
        "examples_per_s": round(best * a.batch if stretches else mean, 1),
        "examples_per_s_mean": round(mean, 1),
        "stretches": stretches,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "batch": a.batch,
        "threads": a.threads,
        "steps": done,
        "seconds": round(elapsed, 3),
        "params": params,
        "torch": torch.__version__,
        "load_avg_1m": round(load, 2),
    }
    if a.mode == "dp":
        out["per_example"] = PER_EXAMPLE
        out["check"] = "passed"  # check_per_example asserted before timing
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
