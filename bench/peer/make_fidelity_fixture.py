#!/usr/bin/env python3
"""Writes tests/data/fidelity: the "debug state" the engine's training step must reproduce
(tests/test_fidelity.cpp). The PyTorch twin (latf_twin.py) runs, in float64, 50 Adam steps of the
SPIB-phase loss and then 50 Adam steps of the joint-phase loss (fresh Adam, lr 1e-3) on one fixed
batch, and records before every update the total, reconstruction and prior losses and the full
flat gradients in the engine's layout. See tests/data/fidelity/README.md for the contents.

usage: make_fidelity_fixture.py [--out tests/data/fidelity] [--reference-logdet-weighting]
  --reference-logdet-weighting  reproduce the reference's defect (log-det × mean(w)); only for
                                showing that the fidelity test fails on it — never commit that.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import latf_twin  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Order of settings.npy (the C++ test checks it against its own configuration).
SETTINGS = {"inputs": 2, "states": 5, "latent_dim": 2, "decoder_width": 16, "layers": 4, "hidden": 16,
            "tau": 3.0, "beta": 0.1, "learning_rate": 1e-3, "batch": 64, "spib_steps": 50, "joint_steps": 50}
SEED = 20250702


def initial_models():
    """float32 models: nn.Linear defaults everywhere, then the values the engine starts at zero
    made non-trivial, so that every term has a gradient from the first step (log σ² ≠ 0,
    non-uniform mixture logits, a ≠ 0 and a non-zero last shift layer: a flow that is not the
    identity)."""
    s = SETTINGS
    torch.manual_seed(SEED)  # nn.Linear's default initialisation draws from the global generator
    generator = torch.Generator().manual_seed(SEED)
    spib = latf_twin.Spib(s["inputs"], s["states"], s["latent_dim"], "linear", 16, s["decoder_width"])
    flow = latf_twin.RealNvp(s["latent_dim"], s["layers"], s["hidden"])
    with torch.no_grad():
        spib.log_variance.fill_(-0.4)
        spib.mixture_logits.normal_(0.0, 0.3, generator=generator)
        spib.pseudo_inputs.uniform_(-1.0, 1.0, generator=generator)
        for layer in flow.layers:
            layer.a.uniform_(-0.5, 0.5, generator=generator)
    return spib, flow


def make_batch(generator):
    """64 frames around three minima, labels of the nearest of 5 centres with 20% relabelled at
    random, weights w ~ U(0.2, 2), inverse temperatures b ∈ {1, 0.4}."""
    s, n = SETTINGS, SETTINGS["batch"]
    minima = torch.tensor([[-1.05, -0.04], [1.05, -0.04], [0.0, 1.535]])
    which = torch.randint(0, 3, (n,), generator=generator)
    x = minima[which] + 0.4 * torch.randn(n, 2, generator=generator)
    centres = torch.tensor([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.5], [0.0, 0.6], [-0.5, 1.0]])
    labels = torch.cdist(x, centres).argmin(dim=1)
    flip = torch.rand(n, generator=generator) < 0.2
    labels[flip] = torch.randint(0, s["states"], (int(flip.sum()),), generator=generator)
    targets = torch.nn.functional.one_hot(labels, s["states"]).float()
    weights = 0.2 + 1.8 * torch.rand(n, generator=generator)
    inverse_temperature = torch.where(torch.rand(n, generator=generator) < 0.5, torch.tensor(1.0), torch.tensor(0.4))
    return x.float(), targets, weights.float(), inverse_temperature.float()


def run(spib, flow, batch, noise, dtype, logdet_weighting):
    """The 100 steps; returns losses [steps, 3], SPIB gradients [steps, P], flow gradients
    [joint steps, Q] (each recorded before its update)."""
    s = SETTINGS
    spib, flow = spib.to(dtype), flow.to(dtype)
    x, targets, weights, inverse_temperature = (t.to(dtype) for t in batch)
    losses, spib_grads, flow_grads = [], [], []
    for phase, steps in (("spib", s["spib_steps"]), ("joint", s["joint_steps"])):
        params = list(spib.parameters()) + (list(flow.parameters()) if phase == "joint" else [])
        optimizer = torch.optim.Adam(params, lr=s["learning_rate"])
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=False)
            eps = noise[len(losses)].to(dtype)
            total, reconstruction, prior = latf_twin.latf_loss(spib, flow, phase, x, targets, weights,
                                                               inverse_temperature, eps, s["beta"], s["tau"],
                                                               logdet_weighting)
            total.backward()
            losses.append([total.item(), reconstruction.item(), prior.item()])
            spib_grads.append(latf_twin.flat_gradients(spib).double())
            if phase == "joint":
                flow_grads.append(latf_twin.flat_gradients(flow).double())
            optimizer.step()
    return np.array(losses), torch.stack(spib_grads).numpy(), torch.stack(flow_grads).numpy()


def relative_gap(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b).max(axis=-1, keepdims=True), 1e-6)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO, "tests", "data", "fidelity"))
    parser.add_argument("--reference-logdet-weighting", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(SEED + 1)
    batch = make_batch(generator)
    steps = SETTINGS["spib_steps"] + SETTINGS["joint_steps"]
    noise = torch.randn(steps, SETTINGS["batch"], SETTINGS["latent_dim"], generator=generator)
    spib, flow = initial_models()
    initial = {**latf_twin.engine_parameters(spib), **latf_twin.engine_parameters(flow)}

    weighting = "mean" if args.reference_logdet_weighting else "per-frame"
    losses, spib_grads, flow_grads = run(*initial_models(), batch, noise, torch.float64, weighting)
    losses32, spib32, flow32 = run(*initial_models(), batch, noise, torch.float32, weighting)
    print("float32 twin vs float64 twin (the engine's expected noise floor): losses "
          f"{np.max(np.abs(losses32 - losses) / np.abs(losses)):.2e} relative, gradients "
          f"{max(relative_gap(spib32, spib_grads), relative_gap(flow32, flow_grads)):.2e} of max |g|")

    os.makedirs(os.path.join(args.out, "initial"), exist_ok=True)
    for name, value in initial.items():
        np.save(os.path.join(args.out, "initial", name + ".npy"), value.astype(np.float32))
    files = {"inputs": batch[0], "targets": batch[1], "weights": batch[2], "inverse_temperature": batch[3],
             "noise": noise}
    for name, value in files.items():
        np.save(os.path.join(args.out, name + ".npy"), value.numpy().astype(np.float32))
    np.save(os.path.join(args.out, "settings.npy"), np.array(list(SETTINGS.values()), dtype=np.float64))
    np.save(os.path.join(args.out, "losses.npy"), losses.astype(np.float64))
    np.save(os.path.join(args.out, "spib_gradients.npy"), spib_grads.astype(np.float32))
    np.save(os.path.join(args.out, "flow_gradients.npy"), flow_grads.astype(np.float32))
    print(f"wrote {args.out}: {len(initial)} parameters, losses {losses.shape}, SPIB gradients "
          f"{spib_grads.shape}, flow gradients {flow_grads.shape}; loss {losses[0, 0]:.6f} → "
          f"{losses[SETTINGS['spib_steps'] - 1, 0]:.6f} (SPIB), {losses[SETTINGS['spib_steps'], 0]:.6f} → "
          f"{losses[-1, 0]:.6f} (joint)" + ("  [REFERENCE LOG-DET WEIGHTING]" if weighting == "mean" else ""))


if __name__ == "__main__":
    main()
