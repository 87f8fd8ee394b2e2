# %% [markdown]
# # Exercise: estimating the gradient noise scale
#
# You will estimate the signal $|G|^2$ and the noise $\operatorname{tr}(\Sigma)$ of a gradient from
# nothing but the norms of batch gradients at two batch sizes, check the estimator on a problem
# whose answer is known in closed form, and then follow the simple noise scale
# $B_{\text{simple}} = \operatorname{tr}(\Sigma)/|G|^2$ through a small training run, where the
# exact value can still be computed from every per-example gradient.
#
# It builds on [the gradient noise scale](../deeper/noise-scale.md), which derives the
# estimator and the closed form used here. The per-example gradients come from `torch.func`, as
# on [inspecting gradients](../hands-on/inspecting.md).

# %% [markdown]
# ## The task
#
# For per-example gradients $g_i$ with mean $G$ and covariance $\Sigma$, the gradient $G_B$ of
# the mean loss over $B$ examples drawn independently satisfies
#
# $$
# \mathbb{E}\,|G_B|^2 = |G|^2 + \frac{\operatorname{tr}(\Sigma)}{B},
# $$
#
# a straight line in $1/B$. Two batch sizes $b < B$ give two equations for the two unknowns:
#
# $$
# |G|^2 \approx \frac{B\,|G_B|^2 - b\,|G_b|^2}{B - b},
# \qquad
# \operatorname{tr}(\Sigma) \approx \frac{|G_b|^2 - |G_B|^2}{1/b - 1/B}.
# $$
#
# **Part 1, a known answer.** Linear regression with $x \sim \mathcal N(0, I_d)$,
# $y = w_*^\top x + \xi$, $\xi \sim \mathcal N(0, s^2)$, loss $\tfrac12 (w^\top x - y)^2$, at
# $w = w_* + u$. The noise-scale page shows $G = u$ and
# $\operatorname{tr}(\Sigma) = d(|u|^2 + s^2) + |u|^2$. Here $d = 12$, $s = 1$ and $|u|^2 = 1/2$,
# so $|G|^2 = 0.5$, $\operatorname{tr}(\Sigma) = 18.5$ and $B_{\text{simple}} = 37$.
#
# **Part 2, a training run.** A 4-32-1 tanh MLP fitted with SGD (batch 32) to 1024 examples of
# a noisy smooth target. Batches are drawn with replacement from the 1024 examples, so $G$ and
# $\Sigma$ are the mean and covariance of the 1024 per-example gradients: the exact value is
# computable, and the estimate can be checked against it at every stage of training.

# %% [markdown]
# ## Starter code
#
# Part 1: the regression problem, a sampler and the gradient of each batch's mean loss.

# %%
import math

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

torch.manual_seed(0)
D, NOISE_STD = 12, 1.0
w_star = torch.randn(D, dtype=torch.float64)
u = torch.randn(D, dtype=torch.float64)
u = u * math.sqrt(0.5) / u.norm()  # |u|^2 = 1/2
w = w_star + u

G2_TRUE = float(u @ u)
TR_TRUE = D * (G2_TRUE + NOISE_STD**2) + G2_TRUE
B_TRUE = TR_TRUE / G2_TRUE


def sample_batches(n_batches: int, batch: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Fresh examples: x of shape (n_batches, batch, D), y of shape (n_batches, batch)."""
    x = torch.randn(n_batches, batch, D, generator=gen, dtype=torch.float64)
    xi = NOISE_STD * torch.randn(n_batches, batch, generator=gen, dtype=torch.float64)
    return x, x @ w_star + xi


def batch_gradients(x: Tensor, y: Tensor) -> Tensor:
    """Gradient at w of each batch's mean loss 1/2 (w.x - y)^2: shape (n_batches, D)."""
    residual = x @ w - y  # (n_batches, batch)
    return (residual.unsqueeze(-1) * x).mean(dim=1)


print(f"exact: |G|^2 = {G2_TRUE:.4f}, tr(Sigma) = {TR_TRUE:.4f}, B_simple = {B_TRUE:.4f}")

# %% [markdown]
# Part 2: data, model, a training loop, and two ways to get gradients: the gradient of a batch's
# mean loss (what `loss.backward()` gives you in practice), and every per-example gradient at once
# (affordable only because the model and the data set are tiny).

# %%
N_TRAIN, BATCH, LR = 1024, 32, 0.1


def make_data(n: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """x of shape (n, 4); y = sin(x . a) + 0.3 * noise, shape (n, 1)."""
    a = torch.tensor([1.0, -2.0, 0.5, 1.5])
    x = torch.randn(n, 4, generator=gen)
    return x, torch.sin(x @ a).unsqueeze(1) + 0.3 * torch.randn(n, 1, generator=gen)


def loss_fn(pred: Tensor, target: Tensor) -> Tensor:
    return 0.5 * (pred - target).pow(2).mean()


def batch_sq_norm(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """|G_B|^2 for the batch (x, y): the squared norm of the gradient of its mean loss."""
    grads = torch.autograd.grad(loss_fn(model(x), y), list(model.parameters()))
    return sum(g.double().pow(2).sum().item() for g in grads)


def per_example_grads(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Every example's gradient as a flat row, float64: shape (N, number of parameters)."""
    params = {name: p.detach() for name, p in model.named_parameters()}

    def one_loss(params: dict[str, Tensor], xi: Tensor, yi: Tensor) -> Tensor:
        return loss_fn(functional_call(model, params, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    grads = vmap(grad(one_loss), in_dims=(None, 0, 0))(params, x, y)
    return torch.cat([g.flatten(1) for g in grads.values()], dim=1).double()


def train(model: nn.Module, steps: int, gen: torch.Generator) -> None:
    """`steps` SGD steps on batches of BATCH drawn with replacement."""
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    for _ in range(steps):
        idx = torch.randint(0, N_TRAIN, (BATCH,), generator=gen)
        opt.zero_grad()
        loss_fn(model(x_train[idx]), y_train[idx]).backward()
        opt.step()


data_gen = torch.Generator().manual_seed(0)
x_train, y_train = make_data(N_TRAIN, data_gen)
torch.manual_seed(0)
mlp = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 1))
with torch.no_grad():
    print(
        f"{sum(p.numel() for p in mlp.parameters())} parameters, "
        f"full-data loss at init {loss_fn(mlp(x_train), y_train).item():.4f}"
    )

# %% [markdown]
# ## Your turn
#
# 1. Write `two_batch_estimates(sq_small, sq_big, b_small, b_big)` returning the two estimates
#    above (it should work on floats and on tensors of many pairs). Feed it the *exact*
#    expectations $|G|^2 + \operatorname{tr}(\Sigma)/B$ of Part 1 first: it must return the truth.
# 2. Part 1: draw a few thousand pairs of batches with $b = 4$ and $B = 64$, compute $|G_b|^2$
#    and $|G_B|^2$ for each, and estimate $B_{\text{simple}}$ (a) by averaging the two estimates
#    over pairs and dividing at the end, (b) from each pair's own ratio. Plot the running
#    estimate against the number of pairs. How many pairs do you need to get within 10%?
# 3. Part 2: at a few points of training (say steps 0, 10, 100, 1000 and 3000), compute the
#    exact $|G|^2$ and $\operatorname{tr}(\Sigma)$ from `per_example_grads`, and the two-batch
#    estimate from a couple of hundred pairs with $b = 16$, $B = 256$. How many standard errors
#    is the estimate from the exact value? How does $B_{\text{simple}}$ change as the loss falls,
#    and why?
# 4. Going further: replace the estimate from many pairs by exponential moving averages of the
#    two estimates taken once per training step, as a data-parallel run can do for the price of
#    one pass over the gradients (see [the two norms in data-parallel
#    training](../deeper/noise-scale.md#the-two-norms-in-data-parallel-training)).

# %% [markdown] tags=["solution"]
# ## Worked solution
#
# ### The estimator, on exact expectations
#
# Substituting $\mathbb{E}|G_b|^2 = |G|^2 + \operatorname{tr}(\Sigma)/b$ and the same for $B$ into
# the two formulas gives $|G|^2$ and $\operatorname{tr}(\Sigma)$ back exactly, so the estimates are
# unbiased: averaging them over many pairs converges to the truth. Their *ratio* is not unbiased,
# which is why the division comes last.


# %% tags=["solution"]
def two_batch_estimates(
    sq_small: Tensor | float, sq_big: Tensor | float, b_small: int, b_big: int
) -> tuple[Tensor | float, Tensor | float]:
    """Unbiased estimates of |G|^2 and tr(Sigma) from |G_b|^2 and |G_B|^2."""
    g2 = (b_big * sq_big - b_small * sq_small) / (b_big - b_small)
    tr_sigma = (sq_small - sq_big) / (1 / b_small - 1 / b_big)
    return g2, tr_sigma


B_SMALL, B_BIG = 4, 64
g2_exact, tr_exact = two_batch_estimates(
    G2_TRUE + TR_TRUE / B_SMALL, G2_TRUE + TR_TRUE / B_BIG, B_SMALL, B_BIG
)
print(f"from exact expectations: |G|^2 = {g2_exact:.6f}, tr(Sigma) = {tr_exact:.6f}")
assert math.isclose(g2_exact, G2_TRUE, rel_tol=1e-12)
assert math.isclose(tr_exact, TR_TRUE, rel_tol=1e-12)

# %% [markdown] tags=["solution"]
# ### Part 1: sampled batches
#
# First the line itself: the mean of $|G_B|^2$ over many batches, for $B$ from 1 to 256, against
# $|G|^2 + \operatorname{tr}(\Sigma)/B$. Then 4000 pairs of batches, the running estimate, and
# the alternative of taking each pair's ratio. Every check allows four standard errors of the
# mean, computed from the samples themselves.

# %% tags=["solution"]
gen = torch.Generator().manual_seed(1)
sizes = [1, 4, 16, 64, 256]
print("   B   mean |G_B|^2   |G|^2 + tr(Sigma)/B   standard error")
for b in sizes:
    sq = batch_gradients(*sample_batches(2**14 // b, b, gen)).pow(2).sum(dim=1)
    mean, se = sq.mean().item(), sq.std().item() / math.sqrt(len(sq))
    print(f"{b:4d} {mean:14.4f} {G2_TRUE + TR_TRUE / b:21.4f} {se:16.4f}")
    assert abs(mean - (G2_TRUE + TR_TRUE / b)) < 4 * se

PAIRS = 4000
sq_small = batch_gradients(*sample_batches(PAIRS, B_SMALL, gen)).pow(2).sum(dim=1)
sq_big = batch_gradients(*sample_batches(PAIRS, B_BIG, gen)).pow(2).sum(dim=1)
g2_pairs, tr_pairs = two_batch_estimates(sq_small, sq_big, B_SMALL, B_BIG)
count = torch.arange(1, PAIRS + 1, dtype=torch.float64)
running = (tr_pairs.cumsum(0) / count) / (g2_pairs.cumsum(0) / count)  # average, then divide
ratio_pairs = tr_pairs / g2_pairs  # each pair's own ratio

se_g2 = g2_pairs.std().item() / math.sqrt(PAIRS)
se_tr = tr_pairs.std().item() / math.sqrt(PAIRS)
print(
    f"{PAIRS} pairs: |G|^2 ~ {g2_pairs.mean():.4f} +- {se_g2:.4f}, "
    f"tr(Sigma) ~ {tr_pairs.mean():.3f} +- {se_tr:.3f}, B_simple ~ {running[-1]:.3f} "
    f"(exact {B_TRUE:.0f})"
)
print(
    f"one pair's |G|^2 estimate: standard deviation {g2_pairs.std():.3f}, "
    f"negative in {100 * (g2_pairs < 0).float().mean():.1f}% of pairs"
)
print(
    f"per-pair ratios: median {ratio_pairs.median():.3f}, "
    f"smallest {ratio_pairs.min():.4g}, largest {ratio_pairs.max():.4g}"
)
outside = ((running - B_TRUE).abs() > 0.1 * B_TRUE).nonzero()
if len(outside) == 0 or outside.max() < PAIRS - 1:
    first = int(outside.max()) + 2 if len(outside) else 1
    print(f"running estimate within 10% of exact from pair {first} on")
else:
    print(f"running estimate not yet within 10% of exact after {PAIRS} pairs")

assert abs(g2_pairs.mean().item() - G2_TRUE) < 4 * se_g2  # unbiased
assert abs(tr_pairs.mean().item() - TR_TRUE) < 4 * se_tr  # unbiased
# a single pair's |G|^2 estimate is a small difference of two noisy numbers: its spread is
# comparable to |G|^2 itself, so some pairs give a negative |G|^2 and a meaningless ratio
assert g2_pairs.std().item() > 0.5 * G2_TRUE
assert (ratio_pairs < 0).any()

# %% tags=["solution"]
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
grid = torch.logspace(0, math.log10(300), 100, dtype=torch.float64)
ax0.loglog(
    grid, G2_TRUE + TR_TRUE / grid, "-", color="C0", label=r"$|G|^2 + \mathrm{tr}(\Sigma)/B$"
)
ax0.loglog(grid, TR_TRUE / grid, "--", color="C1", label=r"noise $\mathrm{tr}(\Sigma)/B$")
ax0.axhline(G2_TRUE, linestyle=":", color="C2", label=r"signal $|G|^2$")
ax0.axvline(B_TRUE, linestyle="-.", color="C3", label=rf"$B_{{simple}} = {B_TRUE:.0f}$")
ax0.loglog(
    [B_SMALL, B_BIG],
    [sq_small.mean(), sq_big.mean()],
    "o",
    color="C0",
    label=rf"mean $|G_B|^2$ at $B = {B_SMALL}, {B_BIG}$",
)
ax0.set(
    xlabel="batch size $B$",
    ylabel=r"$\mathbb{E}\,|G_B|^2$",
    title="Signal and noise in a batch gradient",
)
ax0.legend(fontsize=8)
ax1.semilogx(count, running, color="C0", label="average the estimates, then divide")
ax1.semilogx(
    count, ratio_pairs.cumsum(0) / count, "--", color="C1", label="average of per-pair ratios"
)
ax1.axhline(B_TRUE, linestyle=":", color="C3", label=rf"exact $B_{{simple}} = {B_TRUE:.0f}$")
ax1.axhspan(0.9 * B_TRUE, 1.1 * B_TRUE, color="C3", alpha=0.15, label=r"exact $\pm$ 10%")
ax1.set(
    xlabel="number of batch pairs",
    ylabel=r"$B_{simple}$ estimate",
    ylim=(-B_TRUE, 4 * B_TRUE),
    title=f"Running estimate, $b = {B_SMALL}$, $B = {B_BIG}$",
)
ax1.legend(fontsize=8)
plt.show()

# %% [markdown] tags=["solution"]
# The measured means sit on the line at every batch size, and the pair-averaged estimates of
# $|G|^2$ and $\operatorname{tr}(\Sigma)$ are unbiased. The estimate of $B_{\text{simple}}$ is
# slow to settle, though: one pair's $|G|^2$ estimate has a standard deviation comparable to
# $|G|^2$ itself, because it is a small difference of two large, noisy numbers. Per-pair ratios
# are then dominated by pairs whose $|G|^2$ estimate is near zero or negative, and their average
# wanders with every such pair; averaging numerator and denominator first avoids that.

# %% [markdown] tags=["solution"]
# ### Part 2: the noise scale during training
#
# At each checkpoint: the exact statistics from all 1024 per-example gradients
# ($G$ is their mean, $\operatorname{tr}(\Sigma)$ their mean squared distance from it, dividing by
# $N$ because batches are drawn with replacement), then 200 pairs of batch gradients from
# ordinary `autograd` on batches of 16 and 256. As a check that the two routes compute the same
# thing, the mean of the per-example gradients must equal the full-data gradient from a single
# `backward()`.


# %% tags=["solution"]
def exact_stats(model: nn.Module) -> tuple[float, float]:
    """|G|^2 and tr(Sigma) over the training set, from every per-example gradient."""
    g = per_example_grads(model, x_train, y_train)
    mean = g.mean(dim=0)
    full = torch.autograd.grad(loss_fn(model(x_train), y_train), list(model.parameters()))
    assert torch.allclose(
        mean, torch.cat([t.flatten() for t in full]).double(), rtol=1e-4, atol=1e-7
    )
    return float(mean @ mean), float((g - mean).pow(2).sum(dim=1).mean())


def pair_estimates(
    model: nn.Module, b_small: int, b_big: int, pairs: int, gen: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Per-pair estimates of |G|^2 and tr(Sigma), batches drawn with replacement."""

    def sq_norms(b: int) -> Tensor:
        idx = torch.randint(0, N_TRAIN, (pairs, b), generator=gen)
        return torch.tensor(
            [batch_sq_norm(model, x_train[i], y_train[i]) for i in idx], dtype=torch.float64
        )

    return two_batch_estimates(sq_norms(b_small), sq_norms(b_big), b_small, b_big)


CHECKPOINTS, PAIRS_2, B_SMALL_2, B_BIG_2 = [0, 3, 10, 30, 100, 300, 1000, 3000], 200, 16, 256
train_gen, est_gen = torch.Generator().manual_seed(2), torch.Generator().manual_seed(3)
log: dict[str, list[float]] = {
    key: [] for key in ("loss", "g2", "tr", "g2_est", "tr_est", "b_est", "b_se")
}
print(" step   loss   |G|^2 exact  estimate   tr(Sigma) exact  estimate   B_simple exact  est.")
for i, step in enumerate(CHECKPOINTS):
    train(mlp, step - (CHECKPOINTS[i - 1] if i else 0), train_gen)
    g2, tr_sigma = exact_stats(mlp)
    g2_k, tr_k = pair_estimates(mlp, B_SMALL_2, B_BIG_2, PAIRS_2, est_gen)
    se_g2, se_tr = (t.std().item() / math.sqrt(PAIRS_2) for t in (g2_k, tr_k))
    assert abs(g2_k.mean().item() - g2) < 4 * se_g2, step  # unbiased, at every stage
    assert abs(tr_k.mean().item() - tr_sigma) < 4 * se_tr, step
    with torch.no_grad():
        loss = loss_fn(mlp(x_train), y_train).item()
    b_est = tr_k.mean().item() / g2_k.mean().item()
    for key, value in zip(
        log,
        (
            loss,
            g2,
            tr_sigma,
            g2_k.mean().item(),
            tr_k.mean().item(),
            b_est,
            b_est * (se_g2 / g2 + se_tr / tr_sigma),
        ),
        strict=True,
    ):
        log[key].append(value)
    # the ratio of the two averages: within three standard errors of the exact value (the
    # largest deviation over the eight checkpoints is about two)
    assert abs(b_est - tr_sigma / g2) < 3 * log["b_se"][-1], step
    print(
        f"{step:5d} {loss:6.4f} {g2:12.4e} {log['g2_est'][-1]:9.3e} {tr_sigma:16.4e} "
        f"{log['tr_est'][-1]:9.3e} {tr_sigma / g2:16.4g} {b_est:5.4g}"
    )

b_exact = [t / g for g, t in zip(log["g2"], log["tr"], strict=True)]
# towards a minimum of the full-data loss G -> 0 while the examples still disagree (label
# noise): the signal falls more than fivefold, the noise less than fivefold, so B_simple grows
assert log["g2"][-1] < 0.2 * log["g2"][0]
assert log["tr"][-1] > 0.2 * log["tr"][0]
# below the training batch size at init, above it from step 10 on
assert b_exact[0] < BATCH < min(b for s, b in zip(CHECKPOINTS, b_exact, strict=True) if s >= 10)

# %% tags=["solution"]
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
steps_axis = [s + 1 for s in CHECKPOINTS]
ax0.loglog(steps_axis, log["g2"], "o-", color="C0", label=r"signal $|G|^2$ (exact)")
ax0.loglog(steps_axis, log["tr"], "s--", color="C1", label=r"noise $\mathrm{tr}(\Sigma)$ (exact)")
ax0.loglog(steps_axis, log["loss"], "^:", color="C2", label="full-data loss")
ax0.set(xlabel="SGD step + 1", ylabel="value (log scale)", title="Signal, noise and loss")
ax0.legend(fontsize=8)
ax1.loglog(steps_axis, b_exact, "o-", color="C3", label="exact (all per-example gradients)")
ax1.errorbar(
    steps_axis,
    log["b_est"],
    yerr=log["b_se"],
    fmt="x",
    color="C0",
    capsize=3,
    label=rf"two-batch estimate, {PAIRS_2} pairs ($\pm$ 1 s.e.)",
)
ax1.axhline(BATCH, linestyle=":", color="C2", label=f"training batch size {BATCH}")
ax1.set(
    xlabel="SGD step + 1",
    ylabel=r"$B_{simple} = \mathrm{tr}(\Sigma)/|G|^2$",
    title="The noise scale grows as the loss falls",
)
ax1.legend(fontsize=8)
plt.show()

# %% [markdown] tags=["solution"]
# The two-batch estimates agree with the exact values at every checkpoint to within about two
# standard errors, although they never see a per-example gradient. The error bars show one
# standard error, so at a few checkpoints they stop short of the exact value: with 200 pairs
# the estimate of $B_{\text{simple}}$ is still noisy, and more pairs would shrink the bars as
# $1/\sqrt{\text{pairs}}$. What changes during training is the
# signal: $|G|^2$ falls steeply as the model approaches a minimum of the training loss (it
# jitters from one checkpoint to the next, because SGD's iterate does), while
# $\operatorname{tr}(\Sigma)$ falls much less, because the targets carry noise that no set of
# weights can fit and the examples keep pulling in different directions. Their ratio,
# $B_{\text{simple}}$, grows accordingly: at initialisation it is below the batch size of 32 and
# a small batch already points the right way; from step 10 on it is well above 32, and
# a batch far larger would be needed before its gradient is mostly signal. This is the trend
# McCandlish et al. report across tasks, and the reason the batch size worth paying for rises
# during training (see
# [what it says about the batch size](../deeper/noise-scale.md#what-it-says-about-the-batch-size)).
