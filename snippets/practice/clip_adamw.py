"""With AdamW, a clip keeps a spike out of m and v but does not set the step."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from torch import nn

BETAS = (0.9, 0.95)  # the betas of LLM recipes (GPT-3, OPT, LLaMA)
SPIKE_AT, SPIKE = 100, 100.0  # at step 100 the gradient is 100 times larger
THRESHOLDS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 100.0)  # x median norm


# The threshold study's data (clip_threshold.py), copied: a snippet runs alone.
def make_data(
    n: int,
    seed: int = 0,
    noise_scale: float = 0.1,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """x of shape (n, 16); y = teacher(x) + heavy-tailed (Student-t, 2 dof)
    noise, shape (n, 1)."""
    teacher = torch.Generator().manual_seed(1234)
    w1, w2 = (
        torch.randn(16, 32, generator=teacher) / 4,
        torch.randn(32, 1, generator=teacher) / 2,
    )
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 16, generator=gen)
    z, u = torch.randn(n, 1, generator=gen), torch.rand(n, 1, generator=gen)
    noise = z / torch.sqrt(
        -torch.log1p(-u)
    )  # Student-t with 2 degrees of freedom
    return x.to(device), (torch.tanh(x @ w1) @ w2 + noise_scale * noise).to(
        device
    )


# --8<-- [start:limit]
def spike_step_limit(
    beta1: float, beta2: float, step: int | None = None
) -> float:
    """|step| / lr of Adam in a coordinate whose gradient jumps far above its
    past: (1 - beta1) / sqrt(1 - beta2), times the bias corrections at step."""
    limit = (1 - beta1) / math.sqrt(1 - beta2)
    if step is None:
        return limit
    return limit * math.sqrt(1 - beta2**step) / (1 - beta1**step)


def adam_spike_step(
    beta2: float, spikes: torch.Tensor, steps: int = 200, seed: int = 0
) -> dict[str, torch.Tensor]:
    """AdamW fed N(0, 1) gradients for `steps` steps, then one multiplied by
    `spikes` (one factor per coordinate): |step| / lr of every coordinate on
    that step, and Adam's m and v just before it."""
    gen = torch.Generator().manual_seed(seed)
    w = nn.Parameter(torch.zeros(len(spikes), dtype=torch.float64))
    opt = torch.optim.AdamW([w], 1e-3, (BETAS[0], beta2), weight_decay=0.0)
    for t in range(steps + 1):
        w.grad = torch.randn(len(w), generator=gen, dtype=torch.float64)
        if t == steps:
            m, v = (opt.state[w][k].clone() for k in ("exp_avg", "exp_avg_sq"))
            w.grad *= spikes
        before = w.detach().clone()
        opt.step()
    return {"step": (w.detach() - before).abs() / 1e-3, "m": m, "v": v}
# --8<-- [end:limit]


# --8<-- [start:train]
def train(
    optimizer: str, max_norm: float | None, steps: int = 140, seed: int = 0
) -> dict[str, list[float]]:
    """SGD or AdamW on the threshold study's MLP; step SPIKE_AT's gradient is
    multiplied by SPIKE. Logs the pre-clip norm, the RMS over the weights of
    |step| / lr (weight decay left out), and of Adam's m and sqrt(v)."""
    torch.manual_seed(seed)
    x, y = make_data(2048, seed)
    model = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 1))
    params = list(model.parameters())
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=0.05)
    else:
        opt = torch.optim.AdamW(params, 3e-3, BETAS, weight_decay=0.1)
    lr, decay = opt.param_groups[0]["lr"], opt.param_groups[0]["weight_decay"]
    gen = torch.Generator().manual_seed(seed)
    log: dict[str, list[float]] = {"norm": [], "step": [], "m": [], "v": []}
    for t in range(steps):
        idx = torch.randint(0, len(x), (32,), generator=gen)
        nn.functional.mse_loss(model(x[idx]), y[idx]).backward()
        if t == SPIKE_AT:
            for p in params:
                p.grad *= SPIKE  # a bad batch: same direction, 100x longer
        bound = math.inf if max_norm is None else max_norm
        log["norm"].append(nn.utils.clip_grad_norm_(params, bound).item())
        before = [p.detach() * (1 - lr * decay) for p in params]
        opt.step()
        opt.zero_grad()
        moved = torch.cat(
            [
                (b - p.detach()).flatten()
                for b, p in zip(before, params, strict=True)
            ]
        )
        log["step"].append(moved.pow(2).mean().sqrt().item() / lr)
        if optimizer == "adamw":
            for key, name in (("m", "exp_avg"), ("v", "exp_avg_sq")):
                flat = torch.cat([opt.state[p][name].flatten() for p in params])
                rms = flat.pow(2).mean() if key == "m" else flat.mean()
                log[key].append(rms.sqrt().item())
    return log
# --8<-- [end:train]


def spike_vs_usual(log: dict[str, list[float]]) -> float:
    """The spike step's size over the median of the 50 steps before it."""
    usual = torch.tensor(log["step"][SPIKE_AT - 50 : SPIKE_AT]).median()
    return log["step"][SPIKE_AT] / usual.item()


def pre_spike_quantile(log: dict[str, list[float]], q: float) -> float:
    return torch.quantile(torch.tensor(log["norm"][:SPIKE_AT]), q).item()


def threshold_sweep(seed: int = 0) -> dict[str, list[dict[str, list[float]]]]:
    """Per optimizer, a run up to the spike for each max_norm in THRESHOLDS
    (times the median pre-spike norm of its unclipped run), then that run."""
    sweep = {}
    for opt in ("sgd", "adamw"):
        unclipped = train(opt, None, SPIKE_AT + 1, seed)
        med = pre_spike_quantile(unclipped, 0.5)
        runs = [train(opt, c * med, SPIKE_AT + 1, seed) for c in THRESHOLDS]
        sweep[opt] = [*runs, unclipped]
    return sweep


def main() -> None:
    torch.manual_seed(0)
    sizes = (1e1, 1e2, 1e4, 1e6)
    spikes = torch.tensor(sizes, dtype=torch.float64).repeat_interleave(250)
    print("step after a spike, largest |step| / lr over 250 coordinates")
    print(
        "beta2  (1-b1)/sqrt(1-b2)  at step 201  spike x10   x100   x1e4   x1e6"
    )
    for b2 in (BETAS[1], 0.999):
        largest = adam_spike_step(b2, spikes)["step"].view(4, -1).amax(1)
        limits = f"{spike_step_limit(BETAS[0], b2):17.4f}"
        limits += f"  {spike_step_limit(BETAS[0], b2, 201):11.4f}"
        cells = " ".join(f"{s:6.4f}" for s in largest.tolist())
        print(f"{b2:<5}  {limits}     {cells}")

    base = train("adamw", None)
    p90 = pre_spike_quantile(base, 0.9)
    runs = {"no clipping": base, "max_norm = p90": train("adamw", p90)}
    t = SPIKE_AT
    print(f"\nAdamW {BETAS}: gradient x {SPIKE:g} at step {t}, p90 = {p90:.3g}")
    print("run             step  pre-clip norm    RMS m  RMS sqrt(v)   step/lr")
    for name, log in runs.items():
        for s in (t - 1, t, t + 10):
            print(
                f"{name if s == t - 1 else '':15s}{s:5d}{log['norm'][s]:15.3g}"
                f"{log['m'][s]:9.3g}{log['v'][s]:13.3g}{log['step'][s]:10.4f}"
            )
        m, v = (f"x {log[k][t] / log[k][t - 1]:.3g}" for k in "mv")
        later = (f"x {log[k][t + 10] / log[k][t - 1]:.3g}" for k in "mv")
        print(
            f"  ratio to step {t - 1}: m {m}, sqrt(v) {v}; "
            f"at {t + 10}: {', '.join(later)}"
        )

    sweep = threshold_sweep()
    heads = "".join(f"{c:6g}" for c in (*THRESHOLDS, math.inf))
    print(f"\n{'max_norm / median norm':24s}{heads}")
    for opt, logs in sweep.items():
        cells = "".join(f"{spike_vs_usual(log):6.3g}" for log in logs)
        print(f"{opt + ' spike / usual step':24s}{cells}")
    cells = "".join(f"{log['step'][t]:6.3f}" for log in sweep["adamw"])
    print(f"{'adamw spike step / lr':24s}{cells}")

    _, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    steps = range(t - 20, len(base["m"]))
    for ax, key, what in zip(
        axes, "mv", ("RMS of $m$", r"RMS of $\sqrt{v}$"), strict=True
    ):
        for (name, log), style in zip(runs.items(), "-:", strict=True):
            ax.plot(steps, [log[key][s] for s in steps], style, label=name)
        ax.axvline(t, color="C3", linestyle="--", label=f"gradient x {SPIKE:g}")
        ax.set(yscale="log", xlabel="step", ylabel=what, title=f"AdamW: {what}")
        ax.legend(fontsize=8)

    _, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for i, (opt, logs) in enumerate(sweep.items()):
        ratios = [spike_vs_usual(g) for g in logs]
        ax0.plot(THRESHOLDS, ratios[:-1], "o-", color=f"C{i}", label=opt)
        ax0.axhline(ratios[-1], color=f"C{i}", linestyle=":", linewidth=0.8)
    ax0.set(
        xscale="log",
        yscale="log",
        xlabel="max_norm / median gradient norm",
        ylabel="spike step / usual step",
        title="The clip sets SGD's spike step (dotted: no clip)",
    )
    ax0.legend()
    adamw = [g["step"][t] for g in sweep["adamw"]]
    ax1.plot(THRESHOLDS, adamw[:-1], "o-", color="C1", label="adamw")
    ax1.axhline(adamw[-1], color="C1", linestyle=":", label="no clipping")
    ax1.axhline(
        spike_step_limit(*BETAS),
        color="C3",
        linestyle="--",
        label=r"$(1-\beta_1)/\sqrt{1-\beta_2}$",
    )
    ax1.set(
        xscale="log",
        ylim=(0, None),
        xlabel="max_norm / median gradient norm",
        ylabel="RMS over the weights of |step| / lr",
        title="AdamW's spike step",
    )
    ax1.legend()
    plt.show()


if __name__ == "__main__":
    main()
