# %% [markdown]
# # Exercise: a gradient dashboard
#
# You will build a small gradient monitor out of PyTorch hooks, attach it to a training run
# without changing the training loop, and draw what it records as a one-figure dashboard: the
# loss, the global gradient norm, the per-layer gradient norms and the update-to-weight ratio.
# You will also check the monitor against direct computation, because a monitor that is wrong
# is worse than none.
#
# It builds on [monitoring gradients during training](../hands-on/monitoring.md) (what to
# record and how to read it) and [inspecting gradients](../hands-on/inspecting.md) (the hooks).
# The run clips gradients as in [gradient clipping](../practice/clipping.md).

# %% [markdown]
# ## The task
#
# Write the gradient of parameter tensor $k$ as $g^{(k)}$. For every optimizer step $t$ the
# monitor should record
#
# - the **global norm** $\lVert g \rVert_2 = \bigl(\sum_k \lVert g^{(k)} \rVert_2^2\bigr)^{1/2}$,
#   as `backward()` left it, *before* any clipping;
# - the **per-layer norm** $\lVert g^{(k)} \rVert_2$ of every parameter tensor;
# - the **update-to-weight ratio** $\lVert W_{t+1} - W_t \rVert / \lVert W_t \rVert$ of every
#   weight matrix: what the optimizer actually did.
#
# Three kinds of hook make that possible without touching the loop:
# `Tensor.register_post_accumulate_grad_hook` on every parameter (runs when its `.grad` is
# final), `Optimizer.register_step_pre_hook` (runs at the start of `optimizer.step()`, after
# any clipping) and `Optimizer.register_step_post_hook` (runs after the weights changed).
#
# The run: a 2-48-48-48-3 ReLU MLP classifies points on three noisy concentric rings, with Adam
# (learning rate $3 \times 10^{-3}$), batches of 64, 400 steps and
# `clip_grad_norm_(max_norm=1.0)`, the default of Hugging Face `Trainer`. At step 300 one batch is
# corrupted: its inputs are ten times too large and its labels shuffled, the kind of bad batch a
# dashboard should make obvious.

# %% [markdown]
# ## Starter code
#
# Data, model and a training loop that knows nothing about monitoring. Like `Trainer`, it keeps
# the total norm that `clip_grad_norm_` returns: that is the number to check your monitor against.

# %%
import math
from functools import partial

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn

STEPS, BATCH, LR, MAX_NORM, BAD_STEP = 400, 64, 3e-3, 1.0, 300


def rings(n_per_class: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Points on three noisy circles of radius 0.3, 0.6, 0.9: x (3n, 2), labels (3n,)."""
    radius = torch.tensor([0.3, 0.6, 0.9]).repeat_interleave(n_per_class)
    radius = radius + 0.06 * torch.randn(radius.shape, generator=gen)
    angle = 2 * math.pi * torch.rand(radius.shape, generator=gen)
    x = torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)
    return x, torch.arange(3).repeat_interleave(n_per_class)


def make_model(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(2, 48),
        nn.ReLU(),
        nn.Linear(48, 48),
        nn.ReLU(),
        nn.Linear(48, 48),
        nn.ReLU(),
        nn.Linear(48, 3),
    )


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    steps: int = STEPS,
    max_norm: float = MAX_NORM,
    bad_step: int = BAD_STEP,
) -> tuple[list[float], list[float]]:
    """The training loop: returns the loss and the pre-clipping total norm of every step."""
    gen = torch.Generator().manual_seed(0)
    x, y = rings(400, gen)
    losses, total_norms = [], []
    for step in range(steps):
        idx = torch.randint(0, len(x), (BATCH,), generator=gen)
        xb, yb = x[idx], y[idx]
        if step == bad_step:  # a corrupted batch: inputs 10x too large, labels shuffled
            xb, yb = 10 * xb, yb[torch.randperm(BATCH, generator=gen)]
        loss = nn.functional.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        total_norms.append(nn.utils.clip_grad_norm_(model.parameters(), max_norm).item())
        optimizer.step()
        losses.append(loss.item())
    return losses, total_norms


baseline = make_model()
baseline_losses, baseline_norms = train(baseline, torch.optim.Adam(baseline.parameters(), lr=LR))
print(f"loss: first {baseline_losses[0]:.4f}, last {baseline_losses[-1]:.4f}")
print(
    f"logged grad norm: median {sorted(baseline_norms)[STEPS // 2]:.4f}, "
    f"at step {BAD_STEP} {baseline_norms[BAD_STEP]:.4g}; "
    f"{sum(n > MAX_NORM for n in baseline_norms)} of {STEPS} steps clipped"
)

# %% [markdown]
# ## Your turn
#
# 1. Write a class `GradMonitor(model, optimizer)` that registers the three hooks and records,
#    per step, the global norm, the norm of every parameter tensor and the update-to-weight ratio
#    of every weight matrix. Give it a `remove()` method that removes the hooks. Take the norms
#    in float64.
# 2. Attach it to a fresh model and optimizer and run `train` unchanged. Check it: the global
#    norm must equal the total norm `clip_grad_norm_` returned on every step, clipped or not, and
#    the run must reproduce the baseline exactly (a monitor only reads).
# 3. Check the update-to-weight ratio where you know the answer: with plain SGD the step is
#    $\Delta W = -\eta\, c\, g_W$, with $c = \min\bigl(1, \text{max\_norm} / (\lVert g \rVert +
#    10^{-6})\bigr)$ the clipping coefficient.
# 4. Draw the dashboard: one figure with the loss, the global norm (with the clipping threshold),
#    the per-layer norms of the weight matrices and the update-to-weight ratios, on log scales.
# 5. Read it: where is the bad batch, what did clipping do to it, and which layer has the
#    smallest gradient? Does that layer also move the least?

# %% [markdown] tags=["solution"]
# ## Worked solution
#
# ### The monitor
#
# The parameter hook stores only the squared norm of each gradient (and, for a check below, how
# many of its entries are non-zero), so the monitor costs a few numbers per tensor rather than a
# copy of the model's gradients. With gradient accumulation the hook fires once per `backward()`;
# the last value is the accumulated gradient, which is the one the step uses. The step pre-hook
# turns the squares into norms and keeps a copy of each weight matrix; the post-hook compares the
# weights after the step with that copy.


# %% tags=["solution"]
class GradMonitor:
    """Per optimizer step: global gradient norm, per-tensor norms, update-to-weight ratios."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.params = {name: p for name, p in model.named_parameters() if p.requires_grad}
        self.weights = [name for name, p in self.params.items() if p.ndim > 1]
        self.global_norm: list[float] = []
        self.norms: dict[str, list[float]] = {name: [] for name in self.params}
        self.nonzero: dict[str, list[int]] = {name: [] for name in self.params}
        self.ratios: dict[str, list[float]] = {name: [] for name in self.weights}
        self._squares: dict[str, float] = {}
        self._nonzero: dict[str, int] = {}
        self._before: dict[str, Tensor] = {}
        self._handles = [
            p.register_post_accumulate_grad_hook(partial(self._grad_ready, name))
            for name, p in self.params.items()
        ]
        self._handles += [
            optimizer.register_step_pre_hook(self._before_step),
            optimizer.register_step_post_hook(self._after_step),
        ]

    def _grad_ready(self, name: str, p: Tensor) -> None:
        self._squares[name] = p.grad.detach().double().pow(2).sum().item()  # before clipping
        self._nonzero[name] = int(p.grad.count_nonzero())

    def _before_step(self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        self.global_norm.append(math.sqrt(sum(self._squares.values())))
        for name in self.params:
            self.norms[name].append(math.sqrt(self._squares[name]))
            self.nonzero[name].append(self._nonzero[name])
        self._before = {name: self.params[name].detach().clone() for name in self.weights}
        self._squares, self._nonzero = {}, {}

    def _after_step(self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        for name in self.weights:
            old, new = self._before[name].double(), self.params[name].detach().double()
            self.ratios[name].append(((new - old).norm() / old.norm()).item())

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


model = make_model()
optimizer = torch.optim.Adam(model.parameters(), lr=LR)
w0_norm = {name: p.detach().double().norm().item() for name, p in model.named_parameters()}
monitor = GradMonitor(model, optimizer)
losses, logged_norms = train(model, optimizer)
monitor.remove()
print(f"recorded {len(monitor.global_norm)} steps; weight matrices: {', '.join(monitor.weights)}")

# %% [markdown] tags=["solution"]
# ### Checking the monitor
#
# - The global norm must be the total norm `clip_grad_norm_` returned (it computes the same
#   quantity, before it scales anything), on every step, including clipped ones.
# - The per-tensor norms must add up, in squares, to the global norm squared.
# - The monitored run must equal the baseline loss for loss: the hooks only read.
# - With plain SGD, $\lVert \Delta W \rVert = \eta\, c\, \lVert g_W \rVert$ exactly; the check runs
#   once without clipping ($c = 1$) and once with a threshold so small that every step is clipped,
#   in float64 so that the rounding of tiny steps does not blur the comparison.
# - With Adam, the first step moves each entry by $\eta\, \hat m / (\sqrt{\hat v} + \epsilon)$ with
#   $\hat m = g$ and $\hat v = g^2$: by $\eta\, |g| / (|g| + \epsilon) \approx \eta$ whatever the
#   size of $g$, and not at all where $g = 0$ exactly (a ReLU unit inactive on the whole batch
#   gives a zero row or column). So on step 1,
#   $\lVert \Delta W \rVert = \eta \sqrt{\#\{g \ne 0\}}$, independent of the gradient's norm.

# %% tags=["solution"]
assert len(monitor.global_norm) == STEPS
assert any(n > MAX_NORM for n in logged_norms)  # the check below covers clipped steps too
for ours, logged in zip(monitor.global_norm, logged_norms, strict=True):
    assert math.isclose(ours, logged, rel_tol=1e-5)
for t in range(STEPS):
    per_tensor = math.sqrt(sum(monitor.norms[name][t] ** 2 for name in monitor.params))
    assert math.isclose(per_tensor, monitor.global_norm[t], rel_tol=1e-9)
assert losses == baseline_losses and logged_norms == baseline_norms

sgd_lr = 0.1
for max_norm in (math.inf, 1e-3):  # never clipped, always clipped
    check_model = make_model(seed=1).double()  # float64: tiny clipped steps stay exact
    sgd = torch.optim.SGD(check_model.parameters(), lr=sgd_lr)
    check = GradMonitor(check_model, sgd)
    x_check, y_check = rings(100, torch.Generator().manual_seed(1))
    x_check = x_check.double()
    for _ in range(5):
        before = {n: p.detach().double().norm().item() for n, p in check_model.named_parameters()}
        sgd.zero_grad()
        nn.functional.cross_entropy(check_model(x_check), y_check).backward()
        total = nn.utils.clip_grad_norm_(check_model.parameters(), max_norm).item()
        sgd.step()
        coef = min(1.0, max_norm / (total + 1e-6))
        assert (coef < 1.0) == (max_norm < math.inf)
        for name in check.weights:
            expected = sgd_lr * coef * check.norms[name][-1] / before[name]
            assert math.isclose(check.ratios[name][-1], expected, rel_tol=1e-4), name
    check.remove()

print("step 1, Adam:  ||dW|| / lr   sqrt(#nonzero g)   gradient norm")
for name in monitor.weights:
    step_norm = monitor.ratios[name][0] * w0_norm[name] / LR
    expected = math.sqrt(monitor.nonzero[name][0])
    print(f"  {name:9s} {step_norm:13.4f} {expected:18.4f} {monitor.norms[name][0]:15.3e}")
    assert math.isclose(step_norm, expected, rel_tol=1e-2)  # up to epsilon = 1e-8 in Adam
print("all monitor checks passed")

# %% [markdown] tags=["solution"]
# ### The dashboard

# %% tags=["solution"]
steps = range(1, STEPS + 1)
fig, axes = plt.subplots(2, 2, figsize=(12, 7), sharex=True, layout="constrained")
(ax_loss, ax_global), (ax_layers, ax_ratio) = axes
ax_loss.semilogy(steps, losses, color="C0", label="batch loss")
ax_loss.axhline(math.log(3), linestyle=":", color="C1", label=r"$\ln 3$ (uniform guess)")
ax_loss.set(title="Training loss", ylabel="cross-entropy (nats)")
ax_global.semilogy(steps, monitor.global_norm, color="C0", label="global norm (before clipping)")
ax_global.axhline(MAX_NORM, linestyle="--", color="C3", label=f"max_norm = {MAX_NORM:g}")
styles = ["-", "--", "-.", ":"]
for i, name in enumerate(monitor.weights):
    ax_layers.semilogy(steps, monitor.norms[name], color=f"C{i}", linestyle=styles[i], label=name)
    ax_ratio.semilogy(steps, monitor.ratios[name], color=f"C{i}", linestyle=styles[i], label=name)
ax_global.set(title="Global gradient norm", ylabel=r"$\|g\|_2$")
ax_layers.set(title="Per-layer gradient norm", xlabel="step", ylabel=r"$\|g_W\|_2$")
ax_ratio.axhline(1e-3, linestyle=(0, (1, 3)), color="C7", label=r"$10^{-3}$ reference")
ax_ratio.set(title="Update-to-weight ratio", xlabel="step", ylabel=r"$\|\Delta W\| / \|W\|$")
for ax in axes.flat:
    ax.axvline(BAD_STEP + 1, color="C5", alpha=0.4, linewidth=4, label="corrupted batch")
    ax.legend(fontsize=7)
fig.suptitle("Gradient dashboard: ReLU MLP on three rings, Adam, lr 3e-3, clip at 1.0")
plt.show()

# %% [markdown] tags=["solution"]
# ### Reading it
#
# - **Loss.** It starts near $\ln 3$, the loss of a uniform guess over three classes, as a
#   freshly initialised classifier with small logits should, and falls by more than an order of
#   magnitude.
#   The corrupted batch shows as a single spike.
# - **Global norm.** The corrupted batch stands out by more than an order of magnitude against
#   the steps before it. Clipping scaled that step down to norm 1, but the logged norm (and the
#   monitor, which reads the gradient before clipping) still shows the raw value: that is what
#   lets you find the bad batch afterwards. Ordinary steps cross the threshold too: with
#   `max_norm = 1.0`, clipping is not reserved for emergencies in this run.
# - **Per-layer norms.** At the start the first layer's weight gradient (`0.weight`,
#   $48 \times 2$) is the smallest by about an order of magnitude; its input has two coordinates
#   inside the unit disc, while every other layer reads 48 hidden units. Over the second half of
#   the run the four layers share one band (medians within a factor of 3).
# - **Update-to-weight ratio.** Adam divides each entry by its own running scale, so a small
#   gradient does not mean a small step: on step 1 every entry with a non-zero gradient moved by
#   $\eta$, in every layer (the table above). The first layer's *ratio* is still the lowest,
#   because its weights are large: PyTorch's default init draws them from
#   $U(-1/\sqrt{2}, 1/\sqrt{2})$ for a fan-in of 2. The ratios then fall towards the $10^{-3}$
#   reference. At the corrupted batch they jump in every layer even though clipping cut the
#   gradient to norm 1: Adam compares each entry with its own history, and when one gradient
#   dominates that history the entry moves by up to $\eta (1 - \beta_1)/\sqrt{1 - \beta_2}
#   \approx 3.2\,\eta$. Clipping bounds the gradient, not Adam's step.
#
# The checks below assert these readings.

# %% tags=["solution"]
before_bad = range(BAD_STEP - 20, BAD_STEP)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


spike = monitor.global_norm[BAD_STEP] / median([monitor.global_norm[t] for t in before_bad])
print(
    f"global norm at the corrupted batch: {monitor.global_norm[BAD_STEP]:.4g}, "
    f"{spike:.4g} times the median of the 20 steps before"
)
assert spike > 10 and max(monitor.global_norm) == monitor.global_norm[BAD_STEP]
assert abs(losses[0] - math.log(3)) < 0.1
assert median(losses[-50:]) < 0.1 * losses[0]
first, others = monitor.weights[0], monitor.weights[1:]
assert all(monitor.norms[first][0] < 0.3 * monitor.norms[name][0] for name in others)
assert all(monitor.ratios[first][0] < monitor.ratios[name][0] for name in others)
late = [median(monitor.norms[name][STEPS // 2 :]) for name in monitor.weights]
assert max(late) < 3 * min(late)
for name in monitor.weights:
    jump = monitor.ratios[name][BAD_STEP] / median([monitor.ratios[name][t] for t in before_bad])
    print(
        f"{name}: update-to-weight ratio at the corrupted batch {jump:.3g} times the median "
        "of the 20 steps before"
    )
    assert jump > 2
