#!/usr/bin/env python3
"""Figures of a LaTF run directory (`latf train` or `latf demo`), as PNG files.

    plot_run.py RUN_DIR [--out DIR]      (normally run by `latf plot RUN_DIR`)

Each figure is drawn from whatever the run directory holds and skipped (with a note) when its
inputs are missing:
  latent_fes_data.png       F = -ln p of the data's latent means (traj_<k>_latent_mean.npy), kT
  latent_fes_generated.png  the same for the generated samples at each temperature (generated/)
  profiles.png              1-D free-energy profiles along each latent coordinate, data vs generated
  populations.png           populations vs temperature, predicted (error bars) vs exact (evaluation.json)
  training.png              training and validation loss per epoch, both phases (history.json)
Free energies are in units of kT at the temperature of the samples, shifted to a minimum of 0.
"""
import argparse
import glob
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

BINS_2D = 80
BINS_1D = 60
DPI = 110


def load_json(path):
    with open(path) as f:
        return json.load(f)


def data_latents(run):
    """Latent means of the data, as {temperature or None: [N, d] array}."""
    files = glob.glob(os.path.join(run, "traj_*_latent_mean.npy"))
    index = lambda f: int(re.search(r"traj_(\d+)_latent_mean\.npy$", f).group(1))  # noqa: E731
    files.sort(key=index)
    if not files:
        return {}
    # `latf demo` keeps its data with a manifest, trajectory k = entry k; a `latf train` run does
    # not know where its data came from, so its frames are pooled.
    temperatures = {}
    manifest = os.path.join(run, "data", "manifest.json")
    if os.path.exists(manifest):
        temperatures = {k: e["temperature"] for k, e in enumerate(load_json(manifest))}
    groups = {}
    for f in files:
        groups.setdefault(temperatures.get(index(f)), []).append(np.load(f).astype(np.float64))
    return {t: np.concatenate(v) for t, v in groups.items()}


def generated_latents(run):
    """Generated latent samples, as {temperature: [N, d] array} (generated/manifest.json)."""
    manifest = os.path.join(run, "generated", "manifest.json")
    if not os.path.exists(manifest):
        return {}
    out = {}
    for e in load_json(manifest):
        out[float(e["temperature"])] = np.load(os.path.join(run, "generated", e["latent"])).astype(np.float64)
    return out


def free_energy_2d(points, extent):
    (x0, x1), (y0, y1) = extent
    h, xe, ye = np.histogram2d(points[:, 0], points[:, 1], bins=BINS_2D, range=[[x0, x1], [y0, y1]], density=True)
    with np.errstate(divide="ignore"):
        f = -np.log(h)
    f -= np.min(f[np.isfinite(f)])
    return np.ma.masked_invalid(f).T, xe, ye


def latent_extent(data, generated, dims=(0, 1)):
    """The plotting range: where the data are (0.05th to 99.95th percentile, padded by 15%).
    Generated samples far outside it (the flow's tails at high T) are counted, not drawn."""
    if data:
        ref = np.concatenate(list(data.values()))
    else:
        ref = generated[min(generated)]
    out = []
    for d in dims:
        lo, hi = np.percentile(ref[:, d], [0.05, 99.95])
        pad = 0.15 * (hi - lo + 1e-12)
        out.append((lo - pad, hi + pad))
    return out


def outside_fraction(points, extent):
    inside = np.ones(len(points), dtype=bool)
    for d, (lo, hi) in enumerate(extent):
        inside &= (points[:, d] >= lo) & (points[:, d] <= hi)
    return 1.0 - inside.mean()


def fes_panel(ax, fig, points, extent, title, vmax):
    outside = outside_fraction(points, extent)
    if outside > 0.001:
        title += f"\n{100 * outside:.1f}% of the points outside the frame"
    f, xe, ye = free_energy_2d(points, extent)
    mesh = ax.pcolormesh(xe, ye, f, cmap="viridis", vmin=0, vmax=vmax, shading="flat")
    ax.set_xlabel("latent $u_1$")
    ax.set_ylabel("latent $u_2$")
    ax.set_title(title)
    fig.colorbar(mesh, ax=ax, label="F (kT)")


def plot_data_fes(run, out, data, generated):
    if not data:
        return "no traj_<k>_latent_mean.npy"
    pooled = np.concatenate(list(data.values()))
    if pooled.shape[1] < 2:
        return "latent dimension 1 (see profiles.png)"
    extent = latent_extent(data, generated)
    keys = sorted(t for t in data if t is not None) or [None]
    fig, axes = plt.subplots(1, len(keys), figsize=(5.2 * len(keys), 4.3), squeeze=False)
    for ax, t in zip(axes[0], keys):
        points = data[t] if t is not None else pooled
        label = f"data, T = {t:g}" if t is not None else "data (all trajectories)"
        fes_panel(ax, fig, points, extent, f"{label} ({len(points)} frames)", vmax=10)
    fig.suptitle("Latent free-energy surface of the training data: F = -ln p(u)")
    save(fig, out, "latent_fes_data.png")


def plot_generated_fes(run, out, data, generated):
    if not generated:
        return "no generated/manifest.json (only `latf demo` writes generated samples)"
    if next(iter(generated.values())).shape[1] < 2:
        return "latent dimension 1 (see profiles.png)"
    extent = latent_extent(data, generated)
    temps = sorted(generated)
    cols = min(3, len(temps))
    rows = (len(temps) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.3 * rows), squeeze=False)
    for i, t in enumerate(temps):
        fes_panel(axes[i // cols][i % cols], fig, generated[t], extent, f"generated, T = {t:g}", vmax=10)
    for j in range(len(temps), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle("Latent free-energy surfaces of generated samples (prior at T mapped through the flow)")
    save(fig, out, "latent_fes_generated.png")


def profile(values, edges):
    h, _ = np.histogram(values, bins=edges, density=True)
    with np.errstate(divide="ignore"):
        f = -np.log(h)
    finite = np.isfinite(f)
    if finite.any():
        f -= f[finite].min()
    f[~finite] = np.nan
    return 0.5 * (edges[1:] + edges[:-1]), f


def plot_profiles(run, out, data, generated):
    if not data and not generated:
        return "neither data latents nor generated samples"
    arrays = list(data.values()) + list(generated.values())
    d = arrays[0].shape[1]
    extent = latent_extent(data, generated, dims=range(d))
    temps = sorted(set(generated) | {t for t in data if t is not None})
    colours = plt.cm.coolwarm(np.linspace(0, 1, max(len(temps), 2)))
    fig, axes = plt.subplots(1, d, figsize=(6 * d, 4.3), squeeze=False)
    for j in range(d):
        ax = axes[0][j]
        edges = np.linspace(*extent[j], BINS_1D + 1)
        if None in data:
            x, f = profile(data[None][:, j], edges)
            ax.plot(x, f, "k-", lw=2, label="data (all)")
        for c, t in zip(colours, temps):
            if t in data:
                x, f = profile(data[t][:, j], edges)
                ax.plot(x, f, "-", color=c, lw=2, label=f"data T = {t:g}")
            if t in generated:
                x, f = profile(generated[t][:, j], edges)
                ax.plot(x, f, "--", color=c, lw=1.5, label=f"generated T = {t:g}")
        ax.set_xlabel(f"latent $u_{j + 1}$")
        ax.set_ylabel("F (kT)")
        ax.set_title(f"Free-energy profile along $u_{j + 1}$")
        ax.set_ylim(bottom=-0.3)
        ax.legend(fontsize=7, ncol=2)
    save(fig, out, "profiles.png")


def plot_populations(run, out, data, generated):
    path = os.path.join(run, "evaluation.json")
    if not os.path.exists(path):
        return "no evaluation.json (written by `latf demo`)"
    ev = load_json(path)
    results = ev["results"]
    temps = np.array([r["temperature"] for r in results])
    curve = ev.get("exact_curve", {})
    basins = list(results[0]["basins"].keys() - {"max_abs_error"})
    basins = [b for b in ("left", "right", "top") if b in basins]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    colours = plt.cm.tab10.colors
    ax = axes[0]
    for i, b in enumerate(basins):
        pred = np.array([r["basins"][b]["predicted"] for r in results])
        err = np.array([r["basins"][b]["error"] for r in results])
        exact = np.array([r["basins"][b]["exact"] for r in results])
        style = ("-", "--", "-.")[i % 3]  # left and right coincide by symmetry: both stay visible
        if curve.get("basins"):
            ax.plot(curve["temperatures"], curve["basins"][b], style, color=colours[i], label=f"{b} exact")
        else:
            ax.plot(temps, exact, style, color=colours[i], label=f"{b} exact")
        ax.errorbar(temps, pred, yerr=err, fmt="o", color=colours[i], capsize=3, label=f"{b} predicted")
    ax.set_title("Basin populations")
    ax2 = axes[1]
    states = ev.get("states", len(results[0]["states"]))
    for k in range(states):
        c = colours[k % len(colours)]
        pred = np.array([r["states"][k]["predicted"] for r in results])
        err = np.array([r["states"][k]["error"] for r in results])
        basin = results[0]["states"][k].get("basin", "?")
        if curve.get("states"):
            ax2.plot(curve["temperatures"], [row[k] for row in curve["states"]], "-", color=c,
                     label=f"state {k} ({basin}) exact")
        else:
            ax2.plot(temps, [r["states"][k]["exact"] for r in results], "-", color=c, label=f"state {k} exact")
        ax2.errorbar(temps, pred, yerr=err, fmt="o", color=c, capsize=3, label=f"state {k} predicted")
    ax2.set_title("Learned-state populations\n(exact: Boltzmann mass of the region decoded as each state)", fontsize=10)
    training = ev.get("training_temperatures") or [r["temperature"] for r in results if r.get("training")]
    for a in axes:
        for t in training:
            a.axvline(t, color="grey", ls=":", lw=1)
        a.set_xlabel("temperature T (kT units; dotted: training temperatures)")
        a.set_ylabel("population")
        a.set_ylim(0, 1)
        a.legend(fontsize=7, ncol=2)
    save(fig, out, "populations.png")


def plot_training(run, out, data, generated):
    path = os.path.join(run, "history.json")
    if not os.path.exists(path):
        return "no history.json"
    history = load_json(path)
    if not history:
        return "history.json is empty"
    phases = [p for p in ("spib", "joint") if any(h["phase"] == p for h in history)]
    phases += sorted({h["phase"] for h in history} - set(phases))
    fig, axes = plt.subplots(1, len(phases), figsize=(6 * len(phases), 4.3), squeeze=False)
    for ax, phase in zip(axes[0], phases):
        rows = [h for h in history if h["phase"] == phase]
        x = np.arange(1, len(rows) + 1)
        ax.plot(x, [h["train"]["total"] for h in rows], "-", label="train")
        ax.plot(x, [h["validation"]["total"] for h in rows], "-", label="validation")
        rounds = [h["round"] for h in rows]
        for i in range(1, len(rows)):
            if rounds[i] != rounds[i - 1]:
                ax.axvline(x[i] - 0.5, color="grey", ls=":", lw=1)
        ax.set_xlabel("epoch (counted over the phase; dotted: label refinements)")
        ax.set_ylabel("loss")
        ax.set_title(f"{phase} phase")
        ax.legend()
    save(fig, out, "training.png")


def save(fig, out, name):
    fig.tight_layout()
    path = os.path.join(out, name)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    print(f"wrote {name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="run directory")
    parser.add_argument("--out", help="folder of the figures (default RUN/plots)")
    args = parser.parse_args()
    if not os.path.isdir(args.run):
        sys.exit(f"plot_run.py: error: {args.run} is not a directory")
    out = args.out or os.path.join(args.run, "plots")
    os.makedirs(out, exist_ok=True)
    data, generated = data_latents(args.run), generated_latents(args.run)
    drawn = 0
    for figure in (plot_data_fes, plot_generated_fes, plot_profiles, plot_populations, plot_training):
        why_not = figure(args.run, out, data, generated)
        if why_not:
            print(f"skipped {figure.__name__[5:]}: {why_not}")
        else:
            drawn += 1
    if drawn == 0:
        sys.exit(f"plot_run.py: error: nothing to plot in {args.run}")


if __name__ == "__main__":
    main()
