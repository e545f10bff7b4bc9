"""The LaTF ops in plain, eager PyTorch, written from /work/shared/METHOD.md (not from the C++
engine): the peer the engine is measured against. Each make_<op>(device, n) builds the operands
of one benchmark case (the same shapes and options as bench/op_cases.cpp) and returns two
closures: forward (under no_grad, as inference) and forward + backward (autograd), the second
None for ops without a backward. The code is what a careful PyTorch user would write: idiomatic
modules and tensor expressions, no hand-fused kernels.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

DIM = 2        # latent dimension d
HIDDEN = 16    # conditioner / decoder width h
STATES = 10    # K: decoder classes and VampPrior components
TAU = 3.0      # tilted prior τ (three-hole example)
SLOPE = 0.01   # LeakyReLU slope of the conditioners
LAYERS = 10    # coupling layers of the flow (three-hole example)


# ---- the RealNVP flow of METHOD.md §4 ------------------------------------------------------

def conditioner(d=DIM, h=HIDDEN):
    """Linear(d,h)–LeakyReLU(0.01)–Linear(h,h)–LeakyReLU(0.01)–Linear(h,d)."""
    return nn.Sequential(nn.Linear(d, h), nn.LeakyReLU(SLOPE), nn.Linear(h, h), nn.LeakyReLU(SLOPE),
                         nn.Linear(h, d))


class CouplingLayer(nn.Module):
    def __init__(self, mask):
        super().__init__()
        self.register_buffer("mask", mask)
        d = mask.numel()
        self.scale_net = conditioner(d)
        self.shift_net = conditioner(d)
        self.a = nn.Parameter(torch.zeros(d))

    def normalize(self, x):
        """g⁻¹ (u → z): y = x⊙m + (1−m)⊙(x − t)⊙exp(−s̃), log|det| = −Σ_j (1−m_j) s̃_j."""
        m = self.mask
        c = x * m
        s = self.scale_net(c) * self.a
        t = self.shift_net(c)
        y = c + (1 - m) * (x - t) * torch.exp(-s)
        return y, -((1 - m) * s).sum(dim=1)


class Flow(nn.Module):
    """F = G⁻¹: the layers applied last to first, as training normalizes u into z."""

    def __init__(self, layers=LAYERS, d=DIM):
        super().__init__()
        masks = [torch.tensor([1.0, 0.0]) if l % 2 == 0 else torch.tensor([0.0, 1.0]) for l in range(layers)]
        self.layers = nn.ModuleList(CouplingLayer(m) for m in masks)

    def forward(self, u):
        x, total = u, None
        for layer in self.layers:  # layer 0 acts first on u: the order of bench/coupling_stack.cpp
            x, log_det = layer.normalize(x)
            total = log_det if total is None else total + log_det
        return x, total


def flow_loss(z, log_det):
    """Any scalar that touches every output: mean log-det plus mean z (as the C++ stack)."""
    return log_det.mean() + z.mean()


def randomize_flow(flow, generator):
    """Random weights and a ≠ 0, scaled as the C++ stack (N(0, 0.25²), a ~ N(0, 0.5²))."""
    with torch.no_grad():
        for name, p in flow.named_parameters():
            p.normal_(0.0, 0.5 if name.endswith(".a") else 0.25, generator=generator)


# ---- the benchmark cases ----------------------------------------------------------------------

def _gen():
    """Operands are drawn on the CPU, then moved: every device times the same values."""
    return torch.Generator().manual_seed(20250701)


def _randn(shape, device, gen, std=1.0, grad=False):
    return (torch.randn(shape, generator=gen) * std).to(device).requires_grad_(grad)


def _rand(shape, device, gen, low, high):
    return (low + (high - low) * torch.rand(shape, generator=gen)).to(device)


def _fb(compute, inputs, grad_outputs):
    """forward + backward: build the graph, then gradients of every differentiable input."""
    def run():
        outputs = compute()
        torch.autograd.grad(outputs, inputs, grad_outputs)
    return run


def _fwd(compute):
    def run():
        with torch.no_grad():
            compute()
    return run


def make_linear(device, n):
    g = _gen()
    x, w = _randn((n, HIDDEN), device, g, grad=True), _randn((HIDDEN, HIDDEN), device, g, 0.25, True)
    b, dy = _randn(HIDDEN, device, g, 0.1, True), _randn((n, HIDDEN), device, g)
    f = lambda: F.leaky_relu(F.linear(x, w, b), SLOPE)
    return _fwd(f), _fb(f, (x, w, b), dy)


def make_mlp(device, n):
    g = _gen()
    net = conditioner().to(device)
    x, dy = _randn((n, DIM), device, g, grad=True), _randn((n, DIM), device, g)
    f = lambda: net(x)
    return _fwd(f), _fb(f, (x, *net.parameters()), dy)


def make_coupling(device, n):
    g = _gen()
    layer = CouplingLayer(torch.tensor([1.0, 0.0]))
    with torch.no_grad():  # a ≠ 0 (its init) so the scale path runs; drawn on the CPU generator
        layer.a.normal_(0.0, 0.5, generator=g)
    layer = layer.to(device)
    x = _randn((n, DIM), device, g, grad=True)
    dy, dlog_det = _randn((n, DIM), device, g), _randn(n, device, g)
    f = lambda: layer.normalize(x)
    return _fwd(f), _fb(f, (x, *layer.parameters()), (dy, dlog_det))


def tilted_log_density(z, b, c, tau=TAU):
    """τ‖z‖ − ½·b·‖z‖² − c per row (METHOD.md §5 with b = 1/T', c the log-normaliser)."""
    r = torch.linalg.vector_norm(z, dim=1)
    return tau * r - 0.5 * b * r * r - c


def make_tilted_density(device, n):
    g = _gen()
    z, b = _randn((n, DIM), device, g, 3.0, True), _rand(n, device, g, 0.4, 1.0)
    c, dout = torch.full((n,), 7.0, device=device), _randn(n, device, g)
    f = lambda: tilted_log_density(z, b, c)
    return _fwd(f), _fb(f, (z,), dout)


def tilted_sample(n, d=DIM, tau=TAU, temperature=1.0, device="cpu"):
    """Exact samples of r(z) ∝ exp(τ‖z‖ − ‖z‖²/(2T')): uniform direction × radius.

    The radius density f(r) ∝ r^(d−1)·exp(τr − r²/(2T')) is log-concave with mode
    m = (τT' + √(τ²T'² + 4(d−1)T'))/2. With the proposal N(m, T'), log f − log proposal =
    (d−1)·log r + (τ − m/T')·r + const, concave and stationary at r = m, so the acceptance
    probability exp((d−1)·log(r/m) + (τ − m/T')(r − m)) ≤ 1: exact rejection sampling.
    """
    m = 0.5 * (tau * temperature + math.sqrt((tau * temperature) ** 2 + 4 * (d - 1) * temperature))
    radii, have = [], 0
    while have < n:  # one sync per round: eager rejection sampling needs the accepted count
        k = int(1.3 * (n - have)) + 16
        r = m + math.sqrt(temperature) * torch.randn(k, device=device)
        positive = r > 0
        log_accept = (d - 1) * torch.log(torch.where(positive, r, torch.ones_like(r)) / m) + (tau - m / temperature) * (r - m)
        keep = r[positive & (torch.log(torch.rand(k, device=device)) < log_accept)]
        radii.append(keep[: n - have])
        have += radii[-1].numel()
    direction = torch.randn(n, d, device=device)
    direction = direction / torch.linalg.vector_norm(direction, dim=1, keepdim=True)
    return direction * torch.cat(radii)[:, None]


def make_tilted_sample(device, n):
    return _fwd(lambda: tilted_sample(n, device=device)), None


def make_log_softmax(device, n):
    g = _gen()
    logits, dout = _randn((n, STATES), device, g, 2.0, True), _randn((n, STATES), device, g)
    f = lambda: F.log_softmax(logits, dim=1)
    return _fwd(f), _fb(f, (logits,), dout)


def weighted_cross_entropy(logits, targets, weights):
    """mean_i w_i Σ_k −y_ik log softmax(logits_i)_k (METHOD.md §3, soft targets allowed)."""
    return (weights * -(targets * F.log_softmax(logits, dim=1)).sum(dim=1)).mean()


def make_cross_entropy(device, n):
    g = _gen()
    logits = _randn((n, STATES), device, g, 2.0, True)
    labels = torch.randint(0, STATES, (n,), generator=g)
    targets = F.one_hot(labels, STATES).float().to(device)
    weights = _rand(n, device, g, 0.5, 1.5)
    f = lambda: weighted_cross_entropy(logits, targets, weights)
    return _fwd(f), _fb(f, (logits,), torch.ones((), device=device))


def make_reparameterize(device, n):
    g = _gen()
    mean, noise = _randn((n, DIM), device, g, grad=True), _randn((n, DIM), device, g)
    log_variance = torch.full((1,), -1.0, device=device, requires_grad=True)
    du = _randn((n, DIM), device, g)
    f = lambda: mean + torch.exp(0.5 * log_variance) * noise
    return _fwd(f), _fb(f, (mean, log_variance), du)


def gaussian_log_density(u, mean, log_variance):
    """−½ Σ_j (log σ² + (u_j − μ_j)²/σ²), the −(d/2)·log 2π constant left out."""
    return -0.5 * (log_variance + (u - mean) ** 2 * torch.exp(-log_variance)).sum(dim=-1)


def make_gaussian_density(device, n):
    g = _gen()
    u, mean = _randn((n, DIM), device, g, grad=True), _randn((n, DIM), device, g, grad=True)
    log_variance = torch.full((1,), -1.0, device=device, requires_grad=True)
    dout = _randn(n, device, g)
    f = lambda: gaussian_log_density(u, mean, log_variance)
    return _fwd(f), _fb(f, (u, mean, log_variance), dout)


def vamp_log_density(u, means, log_variance, mixture_logits):
    """log Σ_k softmax(π)_k N(u; μ_k, σ²), constant left out: a log-sum-exp over components."""
    per_component = gaussian_log_density(u[:, None, :], means[None, :, :], log_variance)  # [N, K]
    return torch.logsumexp(F.log_softmax(mixture_logits, dim=0) + per_component, dim=1)


def make_vamp_density(device, n):
    g = _gen()
    u, means = _randn((n, DIM), device, g, grad=True), _randn((STATES, DIM), device, g, 2.0, True)
    log_variance = torch.full((1,), -1.0, device=device, requires_grad=True)
    logits, dout = _randn(STATES, device, g, grad=True), _randn(n, device, g)
    f = lambda: vamp_log_density(u, means, log_variance, logits)
    return _fwd(f), _fb(f, (u, means, log_variance, logits), dout)


def make_weighted_mean(device, n):
    g = _gen()
    x, w = _randn(n, device, g, grad=True), _rand(n, device, g, 0.5, 1.5)
    f = lambda: (w * x).mean()
    return _fwd(f), _fb(f, (x,), torch.ones((), device=device))


def make_axpby(device, n):
    g = _gen()
    a, b = _randn((n, DIM), device, g, grad=True), _randn((n, DIM), device, g, grad=True)
    dout = _randn((n, DIM), device, g)
    f = lambda: 0.5 * a - 2.0 * b
    return _fwd(f), _fb(f, (a, b), dout)


def make_adam(device, n):
    g = _gen()
    p = nn.Parameter(_randn(n, device, g))
    p.grad = _randn(n, device, g)
    optimizer = torch.optim.Adam([p], lr=1e-3)
    return optimizer.step, None


def make_coupling_stack(device, n, compile_flow=False):
    flow = Flow()
    randomize_flow(flow, torch.Generator().manual_seed(1))
    flow = flow.to(device)
    run = torch.compile(flow) if compile_flow else flow
    u = _randn((n, DIM), device, _gen(), grad=True)  # the encoder's sample: needs a gradient

    def step():
        for p in flow.parameters():  # what optimizer.zero_grad() does in torch ≥ 2 (set_to_none)
            p.grad = None
        u.grad = None
        flow_loss(*run(u)).backward()

    return _fwd(lambda: run(u)), step


CASES = {
    "linear": make_linear,
    "mlp": make_mlp,
    "coupling": make_coupling,
    "tilted_density": make_tilted_density,
    "tilted_sample": make_tilted_sample,
    "log_softmax": make_log_softmax,
    "cross_entropy": make_cross_entropy,
    "reparameterize": make_reparameterize,
    "gaussian_density": make_gaussian_density,
    "vamp_density": make_vamp_density,
    "weighted_mean": make_weighted_mean,
    "axpby": make_axpby,
    "adam": make_adam,
    "coupling_stack": make_coupling_stack,
}
