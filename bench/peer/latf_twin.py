#!/usr/bin/env python3
"""The whole LaTF model and both training objectives in plain PyTorch, written from
/work/shared/METHOD.md §3–§6 (not from the C++ engine), reusing the single ops of twin_ops.py.

It serves two purposes:
  * the reference of the fidelity fixture (bench/peer/make_fidelity_fixture.py → tests/data/fidelity),
    for which it runs in float64 and maps its parameters to and from the engine's ParameterSet
    names and packed layouts (engine_parameters / load_engine_parameters / flat_gradients);
  * the peer of the epoch benchmark (`latf_twin.py make-data` and `latf_twin.py epoch`, driven by
    bench/run_epoch_bench.sh): one training epoch as a careful PyTorch user would write it.

Layout facts the mapping relies on (the engine's, see models/spib.cpp, models/realnvp.cpp,
kernels/mlp.hpp): the SPIB set declares encoder.<i>.weight/.bias, log_variance, decoder.<i>.weight/
.bias, pseudo_inputs, mixture_logits in that order; the flow set declares, per layer l,
flow.<l>.scale_net, flow.<l>.shift_net (each W1|b1|W2|b2|W3|b3, row-major [out, in] matrices, as
nn.Linear stores them) and flow.<l>.a. F = G⁻¹ applies layer L−1 first; layer l's mask has its
first ⌊d/2⌋ coordinates conditioned on when l is even, the rest when l is odd.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin_ops  # noqa: E402


# ---- the model ---------------------------------------------------------------------------------

class Spib(nn.Module):
    """Encoder mean, one scalar log σ², decoder logits and the VampPrior (METHOD.md §3)."""

    def __init__(self, inputs, states, latent_dim=2, encoder="linear", encoder_width=16, decoder_width=16):
        super().__init__()
        widths = [inputs, latent_dim] if encoder == "linear" else [inputs, encoder_width, encoder_width, latent_dim]
        self.encoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.log_variance = nn.Parameter(torch.zeros(1))
        self.decoder = nn.ModuleList([nn.Linear(latent_dim, decoder_width), nn.Linear(decoder_width, decoder_width),
                                      nn.Linear(decoder_width, states)])
        self.pseudo_inputs = nn.Parameter(torch.zeros(states, inputs))
        self.mixture_logits = nn.Parameter(torch.zeros(states))

    def encode_mean(self, x):
        for i, layer in enumerate(self.encoder):
            x = layer(x)
            if i + 1 < len(self.encoder):
                x = F.relu(x)
        return x

    def decode_logits(self, u):
        u = F.relu(self.decoder[0](u))
        u = F.relu(self.decoder[1](u))
        return self.decoder[2](u)


def default_mask(dim, layer):
    half = dim // 2
    return torch.tensor([1.0 if (layer % 2 == 0) == (j < half) else 0.0 for j in range(dim)]) if dim > 1 \
        else torch.zeros(1)


class Coupling(nn.Module):
    """One affine coupling layer (METHOD.md §4) with conditioners of width `hidden`."""

    def __init__(self, mask, hidden):
        super().__init__()
        self.register_buffer("mask", mask)
        d = mask.numel()
        self.scale_net = twin_ops.conditioner(d, hidden)
        self.shift_net = twin_ops.conditioner(d, hidden)
        self.a = nn.Parameter(torch.zeros(d))

    def _nets(self, x):
        c = x * self.mask
        return c, self.scale_net(c) * self.a, self.shift_net(c)

    def normalize(self, y):
        """g⁻¹ (u → z): x = y⊙m + (1−m)⊙(y − t)⊙exp(−s̃), log|det| = −Σ_j (1−m_j) s̃_j."""
        c, s, t = self._nets(y)
        keep = 1 - self.mask
        return c + keep * (y - t) * torch.exp(-s), -(keep * s).sum(dim=1)

    def generate(self, x):
        """g (z → u): y = x⊙m + (1−m)⊙(x⊙exp(s̃) + t), log|det| = Σ_j (1−m_j) s̃_j."""
        c, s, t = self._nets(x)
        keep = 1 - self.mask
        return c + keep * (x * torch.exp(s) + t), (keep * s).sum(dim=1)


class RealNvp(nn.Module):
    """G = g_L ∘ … ∘ g_1 generates u = G(z); F = G⁻¹ normalises z = F(u) (METHOD.md §4)."""

    def __init__(self, dim, layers, hidden):
        super().__init__()
        self.dim = dim
        self.layers = nn.ModuleList(Coupling(default_mask(dim, l), hidden) for l in range(layers))

    def _run(self, x, order, method):
        total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for layer in order:
            x, log_det = getattr(layer, method)(x)
            total = total + log_det
        return x, total

    def normalize(self, u):
        return self._run(u, reversed(self.layers), "normalize")

    def generate(self, z):
        return self._run(z, self.layers, "generate")


def latf_loss(spib, flow, phase, x, targets, weights, inverse_temperature, noise, beta, tau,
              logdet_weighting="per-frame"):
    """(total, reconstruction, prior) of one batch; prior is the term multiplied by β.
    SPIB phase: β·mean_i w_i [log q(u_i|x_i) − log r_vamp(u_i)] (§3); joint phase:
    β·mean_i w_i [−log r(F(u_i)) − log|det ∂F/∂u|_i] (§6). logdet_weighting="mean" reproduces the
    reference's defect (log-det multiplied by mean(w)); it exists only to show that the fidelity
    test catches that mistake.
    """
    mean = spib.encode_mean(x)
    log_variance = spib.log_variance
    u = mean + torch.exp(0.5 * log_variance) * noise
    reconstruction = twin_ops.weighted_cross_entropy(spib.decode_logits(u), targets, weights)
    if phase == "spib":
        pseudo_means = spib.encode_mean(spib.pseudo_inputs)
        log_q = twin_ops.gaussian_log_density(u, mean, log_variance)
        log_r = twin_ops.vamp_log_density(u, pseudo_means, log_variance, spib.mixture_logits)
        prior = (weights * (log_q - log_r)).mean()
    else:
        z, log_det = flow.normalize(u)
        log_r = twin_ops.tilted_log_density(z, inverse_temperature, 0.0, tau)
        if logdet_weighting == "per-frame":
            prior = (weights * (-log_r - log_det)).mean()
        else:
            prior = (weights * -log_r).mean() + weights.mean() * (-log_det).mean()
    return reconstruction + beta * prior, reconstruction, prior


# ---- the engine's names and layouts ------------------------------------------------------------

def _mlp_tensors(net):
    """A conditioner's tensors in the engine's packing order W1|b1|W2|b2|W3|b3."""
    return [net[0].weight, net[0].bias, net[2].weight, net[2].bias, net[4].weight, net[4].bias]


def spib_entries(spib):
    """[(engine name, [tensors packed into it])] in the SPIB ParameterSet's declaration order."""
    entries = []
    for i, layer in enumerate(spib.encoder):
        entries += [(f"encoder.{i}.weight", [layer.weight]), (f"encoder.{i}.bias", [layer.bias])]
    entries.append(("log_variance", [spib.log_variance]))
    for i, layer in enumerate(spib.decoder):
        entries += [(f"decoder.{i}.weight", [layer.weight]), (f"decoder.{i}.bias", [layer.bias])]
    entries += [("pseudo_inputs", [spib.pseudo_inputs]), ("mixture_logits", [spib.mixture_logits])]
    return entries


def flow_entries(flow):
    """[(engine name, [tensors packed into it])] in the RealNvp ParameterSet's declaration order."""
    entries = []
    for l, layer in enumerate(flow.layers):
        entries += [(f"flow.{l}.scale_net", _mlp_tensors(layer.scale_net)),
                    (f"flow.{l}.shift_net", _mlp_tensors(layer.shift_net)),
                    (f"flow.{l}.a", [layer.a])]
    return entries


def _engine_value(tensors):
    if len(tensors) == 1:
        return tensors[0].detach().cpu().numpy().copy()
    return torch.cat([t.detach().reshape(-1) for t in tensors]).cpu().numpy()


def engine_parameters(module):
    """{engine name: numpy array in the engine's shape} (a packed conditioner is one flat vector)."""
    entries = spib_entries(module) if isinstance(module, Spib) else flow_entries(module)
    return {name: _engine_value(tensors) for name, tensors in entries}


def load_engine_parameters(module, arrays):
    """Sets the module's parameters from {engine name: array} (every name must be present)."""
    entries = spib_entries(module) if isinstance(module, Spib) else flow_entries(module)
    with torch.no_grad():
        for name, tensors in entries:
            flat = torch.as_tensor(np.asarray(arrays[name])).reshape(-1)
            expected = sum(t.numel() for t in tensors)
            if flat.numel() != expected:
                raise ValueError(f"{name}: expected {expected} values, got {flat.numel()}")
            offset = 0
            for t in tensors:
                t.copy_(flat[offset:offset + t.numel()].reshape(t.shape))
                offset += t.numel()


def flat_gradients(module):
    """The module's gradients as the engine's flat gradient buffer (zeros where none flowed)."""
    entries = spib_entries(module) if isinstance(module, Spib) else flow_entries(module)
    parts = [t.grad.reshape(-1) if t.grad is not None else torch.zeros(t.numel(), dtype=t.dtype)
             for _, tensors in entries for t in tensors]
    return torch.cat(parts).detach().cpu()


# ---- the epoch benchmark (peer side) -----------------------------------------------------------

def make_data(frames, states, out, seed=7):
    """Deterministic three-hole-like frames: x [F, 2] around the three minima, labels [F] of the
    nearest of `states` fixed centres, w = 1 and b = 1 (a one-temperature, unbiased run). Speed
    does not depend on the values; both sides read these same files."""
    rng = np.random.default_rng(seed)
    minima = np.array([[-1.05, -0.04], [1.05, -0.04], [0.0, 1.535]])
    which = rng.choice(3, size=frames, p=[0.45, 0.45, 0.10])
    x = (minima[which] + 0.3 * rng.standard_normal((frames, 2))).astype(np.float32)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    centres = x[rng.choice(frames, size=states, replace=False)]
    labels = np.argmin(((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1).astype(np.int64)
    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, "inputs.npy"), x.astype(np.float32))
    np.save(os.path.join(out, "labels.npy"), labels)
    np.save(os.path.join(out, "weights.npy"), np.ones(frames, dtype=np.float32))
    np.save(os.path.join(out, "inverse_temperature.npy"), np.ones(frames, dtype=np.float32))


def run_epoch(spib, flow, optimizer, phase, data, batch, beta, tau, generator):
    """One shuffled pass with the step of a training loop: zero grads, fresh noise, loss,
    backward, Adam, and the loss read back (a trainer checks it for divergence and logs it)."""
    x, targets, weights, inverse_temperature = data
    frames = x.shape[0]
    order = torch.randperm(frames, generator=generator)
    total = 0.0
    for start in range(0, frames, batch):
        idx = order[start:start + batch]
        optimizer.zero_grad(set_to_none=True)
        noise = torch.randn(idx.numel(), spib.decoder[0].in_features, generator=generator)
        loss, _, _ = latf_loss(spib, flow, phase, x[idx], targets[idx], weights[idx], inverse_temperature[idx],
                               noise, beta, tau)
        loss.backward()
        optimizer.step()
        total += loss.item() * idx.numel() / frames
    return total


def epoch_bench(args):
    torch.set_num_threads(args.threads)
    load = lambda name: torch.from_numpy(np.load(os.path.join(args.data, name + ".npy")))
    x, labels = load("inputs"), load("labels")
    states = int(labels.max()) + 1
    data = (x, F.one_hot(labels, states).float(), load("weights"), load("inverse_temperature"))
    results = []
    for foreach in {"off": [False], "on": [True], "both": [True, False]}[args.foreach]:
        # Fresh weights per optimizer variant, so both time the same trajectory.
        torch.manual_seed(0)
        spib = Spib(x.shape[1], states, args.latent_dim, args.encoder, args.width, args.width)
        flow = RealNvp(args.latent_dim, args.layers, args.hidden)
        generator = torch.Generator().manual_seed(1)
        for phase in args.phases.split(","):
            params = list(spib.parameters()) + (list(flow.parameters()) if phase == "joint" else [])
            optimizer = torch.optim.Adam(params, lr=1e-3, foreach=foreach)
            seconds, cpu_seconds = [], []
            for _ in range(args.epochs):
                start, cpu_start = time.perf_counter(), time.process_time()
                loss = run_epoch(spib, flow, optimizer, phase, data, args.batch, args.beta, args.tau, generator)
                seconds.append(time.perf_counter() - start)
                cpu_seconds.append(time.process_time() - cpu_start)
                print(f"twin {phase} epoch (Adam foreach={foreach}): {seconds[-1]:.3f} s, cpu {cpu_seconds[-1]:.3f} s "
                      f"(loss {loss:.4f})", flush=True)
            results.append({"phase": phase, "adam_foreach": foreach, "epoch_seconds": seconds,
                            "median_seconds": statistics.median(seconds), "epoch_cpu_seconds": cpu_seconds,
                            "median_cpu_seconds": statistics.median(cpu_seconds),
                            "steps_per_epoch": -(-x.shape[0] // args.batch), "final_loss": loss})
    document = {
        "implementation": "pytorch-twin",
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "torch": torch.__version__, "threads": torch.get_num_threads()},
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "commit": os.environ.get("LATF_COMMIT", "unknown"),
        "config": {"frames": int(x.shape[0]), "descriptors": int(x.shape[1]), "states": states,
                   "encoder": args.encoder, "latent_dim": args.latent_dim, "decoder_width": args.width,
                   "layers": args.layers, "hidden": args.hidden, "batch": args.batch, "beta": args.beta,
                   "tau": args.tau},
        "results": results,
    }
    with open(args.json, "w") as f:
        json.dump(document, f, indent=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    data = sub.add_parser("make-data", help="write the epoch benchmark's data set (.npy)")
    data.add_argument("--frames", type=int, default=1_000_000)
    data.add_argument("--states", type=int, default=10)
    data.add_argument("--out", required=True)
    epoch = sub.add_parser("epoch", help="time training epochs of the twin")
    epoch.add_argument("--data", required=True)
    epoch.add_argument("--json", required=True)
    epoch.add_argument("--phases", default="spib,joint")
    epoch.add_argument("--epochs", type=int, default=2)
    epoch.add_argument("--threads", type=int, default=1)
    epoch.add_argument("--encoder", default="linear", choices=["linear", "nonlinear"])
    epoch.add_argument("--latent-dim", type=int, default=2)
    epoch.add_argument("--width", type=int, default=16, help="n1 = n2")
    epoch.add_argument("--layers", type=int, default=10)
    epoch.add_argument("--hidden", type=int, default=16)
    epoch.add_argument("--batch", type=int, default=512)
    epoch.add_argument("--beta", type=float, default=1e-4)
    epoch.add_argument("--tau", type=float, default=3.0)
    epoch.add_argument("--foreach", default="both", choices=["off", "on", "both"],
                       help="torch.optim.Adam(foreach=...): the per-tensor loop (the default in torch 1.13 on "
                            "the CPU), the multi-tensor kernels, or both")
    args = parser.parse_args()
    if args.command == "make-data":
        make_data(args.frames, args.states, args.out)
    else:
        epoch_bench(args)


if __name__ == "__main__":
    main()
