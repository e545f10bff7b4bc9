#!/usr/bin/env python3
"""Checks that the PyTorch twin computes what the engine computes, so the benchmark compares
like with like. latf_bench --dump-stack writes the weights, input and results of one coupling
stack step (raw float32); this script loads the same weights and input into twin_ops.Flow and
compares:
  z and the summed log-dets   to 1e-5 (|ours − torch| ≤ 1e-5·(1 + |torch|)),
  the loss                     to 1e-5,
  every parameter gradient and the input gradient to 1e-4 (relative to the largest entry:
  backward sums over the batch in a different order in each implementation).
It also checks the twin's exact tilted sampler against the radial density by quadrature.

usage: check_twin.py [--bench build/release/bench/latf_bench] [--batch 64]
Exit status 0 when everything agrees.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin_ops  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(directory, name, shape=None):
    values = torch.from_numpy(np.fromfile(os.path.join(directory, name + ".f32"), dtype="<f4").copy())
    return values if shape is None else values.reshape(shape)


def unpack_mlp(flat, d, h):
    """The engine's packed conditioner: W1 [h,d] | b1 [h] | W2 [h,h] | b2 [h] | W3 [d,h] | b3 [d]."""
    sizes = [(h, d), (h,), (h, h), (h,), (d, h), (d,)]
    tensors, offset = [], 0
    for shape in sizes:
        count = math.prod(shape)
        tensors.append(flat[offset:offset + count].reshape(shape))
        offset += count
    return tensors


def mlp_parameters(net):
    """The twin conditioner's parameters in the engine's packing order."""
    return [net[0].weight, net[0].bias, net[2].weight, net[2].bias, net[4].weight, net[4].bias]


def flow_from_dump(meta, params):
    d, h, net_size = meta["dim"], meta["hidden"], meta["net_size"]
    flow = twin_ops.Flow(layers=meta["layers"], d=d)
    per_layer = 2 * net_size + d
    with torch.no_grad():
        for l, layer in enumerate(flow.layers):
            base = l * per_layer
            for net, start in ((layer.scale_net, base), (layer.shift_net, base + net_size)):
                for p, v in zip(mlp_parameters(net), unpack_mlp(params[start:start + net_size], d, h)):
                    p.copy_(v)
            layer.a.copy_(params[base + 2 * net_size:base + per_layer])
    return flow


def flat_grads(flow, meta):
    parts = []
    for layer in flow.layers:
        for net in (layer.scale_net, layer.shift_net):
            parts += [p.grad.reshape(-1) for p in mlp_parameters(net)]
        parts.append(layer.a.grad)
    return torch.cat(parts)


def agree(name, ours, theirs, tolerance, relative_to_max=False):
    ours, theirs = ours.double(), theirs.double()
    scale = theirs.abs().max().clamp_min(1.0) if relative_to_max else 1.0 + theirs.abs()
    error = ((ours - theirs).abs() / scale).max().item()
    ok = error <= tolerance
    print(f"{'ok  ' if ok else 'FAIL'} {name:<22} max scaled error {error:.2e} (tolerance {tolerance:.0e})")
    return ok


def check_coupling_stack(bench, batch):
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run([bench, "--dump-stack", directory, "--dump-batch", str(batch)], check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(directory, "meta.json")) as f:
            meta = json.load(f)
        d = meta["dim"]
        if meta["direction"] != "normalizing" or meta["first_mask"] != [1, 0] or meta["alpha"] != twin_ops.SLOPE:
            raise SystemExit(f"dump describes a stack the twin does not model: {meta}")
        flow = flow_from_dump(meta, load(directory, "params"))
        u = load(directory, "u", (batch, d)).requires_grad_(True)
        z, log_det = flow(u)
        loss = twin_ops.flow_loss(z, log_det)
        loss.backward()
        checks = [
            agree("z", load(directory, "z", (batch, d)), z.detach(), 1e-5),
            agree("log_det", load(directory, "log_det"), log_det.detach(), 1e-5),
            agree("loss", load(directory, "loss"), loss.detach().reshape(1), 1e-5),
            agree("parameter gradients", load(directory, "param_grads"), flat_grads(flow, meta), 1e-4, True),
            agree("input gradient", load(directory, "u_grad", (batch, d)), u.grad, 1e-4, True),
        ]
    return all(checks)


def check_tilted_sampler(n=200_000):
    """Mean radius of twin_ops.tilted_sample against ∫ r·f(r) dr / ∫ f(r) dr (d = 2, 3)."""
    ok = True
    torch.manual_seed(0)
    for d, tau, temperature in ((2, twin_ops.TAU, 1.0), (3, 2.0, 2.5)):
        r = torch.linspace(1e-6, 40.0, 400_001, dtype=torch.float64)
        log_f = (d - 1) * torch.log(r) + tau * r - r * r / (2 * temperature)
        f = torch.exp(log_f - log_f.max())
        exact = (torch.trapz(r * f, r) / torch.trapz(f, r)).item()
        radii = torch.linalg.vector_norm(twin_ops.tilted_sample(n, d, tau, temperature).double(), dim=1)
        error = abs(radii.mean().item() - exact) / (radii.std().item() / math.sqrt(n))
        good = error < 5.0
        ok = ok and good
        print(f"{'ok  ' if good else 'FAIL'} tilted sampler d={d}     mean radius {radii.mean().item():.4f} vs "
              f"{exact:.4f} ({error:.1f} standard errors)")
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench", default=os.path.join(REPO, "build", "release", "bench", "latf_bench"))
    p.add_argument("--batch", type=int, default=64)
    args = p.parse_args()
    torch.set_num_threads(1)
    ok = check_coupling_stack(args.bench, args.batch)
    ok = check_tilted_sampler() and ok
    print("twin check:", "PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
