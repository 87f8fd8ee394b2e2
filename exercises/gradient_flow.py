# %% [markdown]
# # Exercise: gradient flow across activation functions
#
# You will measure how large the gradient of every weight matrix is in a 30-layer MLP at
# initialisation, for three activations (sigmoid, tanh, ReLU) and three weight scales (PyTorch's
# default, Xavier and He), draw the nine profiles on a log scale, and explain each one from the
# backward recursion. Along the way you will see why a flat profile is not enough: the level
# matters as much as the slope.
#
# It builds on [vanishing and exploding gradients](../problems/vanishing-exploding.md) (the delta
# recursion, and why norms are taken in float64) and
# [activation functions](../problems/activations.md) (the derivatives and their bounds). The
# weight scales are the ones derived on [initialization](../problems/initialization.md).

# %% [markdown]
# ## The task
#
# The network has $L = 30$ hidden layers $z_l = W_l a_{l-1} + b_l$, $a_l = f(z_l)$, with
# $a_0 = x$, width $n = 64$ and zero biases, then a linear head to one output. A batch
# $x$ of shape $(128, 64)$ with random targets $y$ of shape $(128, 1)$ goes through it, with the
# mean squared error as the loss. For each hidden layer you want
# $\lVert \partial L / \partial W_l \rVert_F$.
#
# With $\delta_l = \partial L / \partial z_l$ (one row per example), the backward pass computes
#
# $$
# \delta_l = \bigl(\delta_{l+1} W_{l+1}\bigr) \odot f'(z_l),
# \qquad
# \frac{\partial L}{\partial W_l} = \delta_l^\top a_{l-1} \quad (\text{shape } 64 \times 64),
# $$
#
# so a weight gradient is the product of a backward signal $\delta_l$, which has passed through
# the $L - l$ layers above, and a forward signal $a_{l-1}$, which has passed through the $l - 1$
# layers below. The weights are drawn with standard deviation $g / \sqrt{n}$:
#
# | init | weights | gain $g = \sqrt{n \operatorname{Var}[W]}$ |
# |---|---|---|
# | PyTorch default (`nn.Linear`) | $U(-1/\sqrt n, 1/\sqrt n)$ | $1/\sqrt 3$ |
# | Xavier (`xavier_normal_`, square layers) | $\mathcal N(0, 1/n)$ | $1$ |
# | He (`kaiming_normal_`, `nonlinearity="relu"`) | $\mathcal N(0, 2/n)$ | $\sqrt 2$ |

# %% [markdown]
# ## Starter code
#
# The cell below builds the data and the nine networks' recipe; nothing is measured yet. It
# checks that each init has the gain in the table.

# %%
import math

import matplotlib.pyplot as plt
import torch
from torch import nn

DEPTH, WIDTH, BATCH = 30, 64, 128
ACTIVATIONS: dict[str, type[nn.Module]] = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "ReLU": nn.ReLU}
GAINS = {"PyTorch default": 1 / math.sqrt(3), "Xavier": 1.0, "He": math.sqrt(2)}


def build_mlp(
    activation: type[nn.Module], init: str, depth: int = DEPTH, width: int = WIDTH, seed: int = 1
) -> nn.Sequential:
    """depth x (Linear(width, width) -> activation), then Linear(width, 1); zero biases."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), activation()]
    layers.append(nn.Linear(width, 1))
    for layer in layers:
        if isinstance(layer, nn.Linear):
            if init == "Xavier":
                nn.init.xavier_normal_(layer.weight)
            elif init == "He":
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)  # "PyTorch default" keeps nn.Linear's own weights
    return nn.Sequential(*layers)


torch.manual_seed(0)
x = torch.randn(BATCH, WIDTH)
y = torch.randn(BATCH, 1)

print("init              expected gain   measured sqrt(n) * std(W_1)")
for init, gain in GAINS.items():
    model = build_mlp(nn.ReLU, init)
    print(f"{init:17s} {gain:13.4f}   {math.sqrt(WIDTH) * model[0].weight.std().item():.4f}")

# %% [markdown]
# ## Your turn
#
# 1. Write `per_layer_grad_norms(model, x, y)`: one forward and backward pass of
#    `nn.functional.mse_loss`, returning $\lVert \partial L / \partial W_l \rVert_F$ for the 30
#    hidden layers, input side first. Take each norm in float64 (`grad.double().norm()`):
#    [here is why](../problems/vanishing-exploding.md#weight-scale-exploding-gradients).
# 2. Run it for all nine (activation, init) pairs and plot the profiles: layer index on the
#    horizontal axis, the norm on a log scale, one panel per activation.
# 3. Before you look, predict the sigmoid slope: by how much does the gradient shrink per layer
#    towards the input, as a function of the gain $g$? (Use $\sigma' \le 1/4$ and
#    $\mathbb{E}\,\lVert \delta W \rVert^2 = n \operatorname{Var}[W]\, \lVert \delta \rVert^2$.)
# 4. Explain the ReLU profiles. Why are all three nearly flat, and what is still wrong with the
#    PyTorch-default one?
# 5. Going further: add GELU, double the depth, or make every block residual,
#    $a_l = a_{l-1} + f(W_l a_{l-1})$, and see which profiles change.

# %% [markdown] tags=["solution"]
# ## Worked solution
#
# The norms come from one backward pass; a per-layer factor summarises each profile. Fitting a
# straight line to $\log \lVert \partial L / \partial W_l \rVert$ against $l$ uses all 30 layers,
# so it is less noisy than the ratio of the two end layers.


# %% tags=["solution"]
def per_layer_grad_norms(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """||dL/dW_l||_F of every hidden Linear, input side first, in float64."""
    model.zero_grad(set_to_none=True)
    nn.functional.mse_loss(model(x), y).backward()
    hidden = [m for m in model if isinstance(m, nn.Linear)][:-1]  # leave out the head
    return torch.stack([m.weight.grad.double().norm() for m in hidden])


def factor_per_layer(norms: torch.Tensor) -> float:
    """Least-squares slope of log(norm) against layer, as a factor per layer towards the input."""
    layer = torch.arange(1, len(norms) + 1, dtype=torch.float64)
    log_norm = norms.log()
    slope = ((layer - layer.mean()) * (log_norm - log_norm.mean())).sum() / (
        (layer - layer.mean()) ** 2
    ).sum()
    return math.exp(-slope.item())


norms = {
    (act, init): per_layer_grad_norms(build_mlp(cls, init), x, y)
    for act, cls in ACTIVATIONS.items()
    for init in GAINS
}

print("activation init              ||dW_1||   ||dW_30||     max/min  factor/layer")
for (act, init), n in norms.items():
    print(
        f"{act:10s} {init:15s} {n[0]:11.3e} {n[-1]:11.3e} {n.max() / n.min():11.3e} "
        f"{factor_per_layer(n):13.4f}"
    )

# %% tags=["solution"]
fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharey=True, layout="constrained")
styles = {"PyTorch default": ("-", "o"), "Xavier": ("--", "s"), "He": ("-.", "^")}
layers = range(1, DEPTH + 1)
for ax, act in zip(axes, ACTIVATIONS, strict=True):
    for i, (init, (line, marker)) in enumerate(styles.items()):
        ax.semilogy(
            layers,
            norms[act, init].numpy(),
            color=f"C{i}",
            linestyle=line,
            marker=marker,
            markevery=5,
            markersize=4,
            label=init,
        )
    ax.set(title=act, xlabel="layer $l$ (1 = next to the input)")
axes[0].set_ylabel(r"$\|\partial L / \partial W_l\|_F$ (log scale)")
axes[0].legend(title="init", fontsize=8)
fig.suptitle(f"Weight-gradient norm per layer at initialisation, {DEPTH}-layer MLP, width {WIDTH}")
plt.show()

# %% [markdown] tags=["solution"]
# ### What the profiles say
#
# **Sigmoid vanishes under every init.** Going down one layer, $\delta_{l+1} W_{l+1}$ has
# expected squared norm $g^2 \lVert \delta_{l+1} \rVert^2$, and every entry is then multiplied by
# $\sigma'(z_l) \le 1/4$. So the backward signal shrinks by at most about $g/4$ per layer:
# $0.144$, $0.25$ and $0.354$ for the three inits. The forward signal does not shrink (sigmoid
# outputs sit near $1/2$), so the weight gradients inherit the backward factor, and over 29
# layers the first layer gets a vanishing fraction of the last layer's gradient. No gain in this
# range helps: $g/4 < 1$ for any $g < 4$, and a gain that large would saturate the units, making
# $\sigma'$ far smaller than $1/4$.
#
# **ReLU is flat under every init, but only He gives it a sensible level.** ReLU passes half of
# the units with slope 1, so each layer multiplies the mean squared norm of *both* signals by
# $g^2/2$: forwards $\mathbb{E}\lVert a_l \rVert^2 = \tfrac{g^2}{2}\lVert a_{l-1} \rVert^2$,
# backwards the same for $\delta$. The gradient of $W_l$ collects $l - 1$ forward factors and
# $L - l + 1$ backward ones (the head's weight included), $L$ in total for *every* layer. So the
# profile is flat whatever $g$ is, and its level scales like $(g/\sqrt 2)^{L}$. He init
# ($g = \sqrt 2$) puts that factor at 1; PyTorch's default ($g^2/2 = 1/6$) puts the whole network
# at about $6^{-15} \approx 2 \times 10^{-12}$ of He's level: every layer learns equally slowly.
# A per-layer plot normalised to the last layer would hide this; the absolute level shows it.
#
# **Tanh sits in between.** Near zero, $\tanh(z) \approx z$ and $\tanh'(z) \approx 1$, so small
# signals behave like ReLU without the factor $1/2$: flat profiles, with a level that falls like
# $g^{L}$ for the default init. With larger gains the units saturate, the forward signal settles
# at a fixed scale, and the backward factor becomes $g^2\,\mathbb{E}[\tanh'(z)^2]$ per layer in
# mean square, slightly above 1 for He's $g = \sqrt 2$: the gradient grows mildly towards the
# input (the factor column above). Unlike sigmoid, tanh is centred at zero and has slope 1 there,
# which is what saves it.
#
# The checks below assert these claims with margins for the random fluctuations of a width-64
# network.

# %% tags=["solution"]
for init, gain in GAINS.items():
    sig = norms["sigmoid", init]
    # backward factor at most g/4 per layer (10% margin for finite-width fluctuations)
    assert factor_per_layer(sig) < 1.1 * gain / 4, (init, factor_per_layer(sig))
    assert sig[0] / sig[-1] < (1.1 * gain / 4) ** (DEPTH - 1)  # below 1e-11 for every gain
    for act in ("tanh", "ReLU"):
        n = norms[act, init]
        assert n.max() / n.min() < 30, (act, init)  # flat: no exponential trend over 30 layers

# tanh with He's gain: at the forward fixed point g^2 E[tanh'(z)^2] > 1, so it grows mildly
assert factor_per_layer(norms["tanh", "He"]) > 1

# ReLU: the level scales like (g / sqrt 2)^L; compare the default init with He's
level = {init: norms["ReLU", init].log().mean().exp().item() for init in GAINS}
predicted = (GAINS["PyTorch default"] / GAINS["He"]) ** DEPTH  # 6^(-L/2)
print(
    f"ReLU level, default / He: measured {level['PyTorch default'] / level['He']:.3e}, "
    f"predicted 6^(-{DEPTH}/2) = {predicted:.3e}"
)
assert 0.01 < level["PyTorch default"] / level["He"] / predicted < 100

# %% [markdown] tags=["solution"]
# ### Why the norms are taken in float64
#
# The sigmoid network with PyTorch's default init leaves entries of $\partial L / \partial W_1$
# so small that their squares fall below float32's smallest positive number ($2^{-149}$). The
# entries themselves are stored fine, but a float32 norm squares them first and returns exactly 0,
# which a log-scale plot cannot show and a monitor would read as "no gradient at all".

# %% tags=["solution"]
model = build_mlp(nn.Sigmoid, "PyTorch default")
per_layer_grad_norms(model, x, y)
grad_w1 = model[0].weight.grad
print(f"largest |entry| of dL/dW_1: {grad_w1.abs().max().item():.3e}")
print(f"float32 norm: {grad_w1.norm().item():.3e}, float64 norm: {grad_w1.double().norm():.3e}")
# the sigmoid factor bound puts ||dW_1|| below (1.1 g / 4)^29 ||dW_30||: every square underflows
assert grad_w1.abs().max().double() ** 2 < 2.0**-149
assert grad_w1.norm().item() == 0.0  # float32: exactly 0
assert (grad_w1 != 0).all() and grad_w1.double().norm() > 0  # float64: the true, tiny value
