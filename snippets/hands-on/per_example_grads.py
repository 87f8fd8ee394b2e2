"""Per-example gradients with torch.func (vmap of grad), checked by a loop."""

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap


# --8<-- [start:func]
def per_example_grads(
    model: nn.Module, x: Tensor, y: Tensor
) -> dict[str, Tensor]:
    """dL_i/dtheta for every example i; each entry has shape
    (N, *param.shape)."""
    params = {name: p.detach() for name, p in model.named_parameters()}

    def loss_one(params: dict[str, Tensor], xi: Tensor, yi: Tensor) -> Tensor:
        logits = functional_call(
            model, params, (xi.unsqueeze(0),)
        )  # a batch of one
        return nn.functional.cross_entropy(logits, yi.unsqueeze(0))

    return vmap(grad(loss_one), in_dims=(None, 0, 0))(params, x, y)
# --8<-- [end:func]


# --8<-- [start:loop]
def per_example_grads_loop(
    model: nn.Module, x: Tensor, y: Tensor
) -> dict[str, Tensor]:
    """The same N gradients, one backward pass per example."""
    rows: dict[str, list[Tensor]] = {
        name: [] for name, _ in model.named_parameters()
    }
    for i in range(len(x)):
        model.zero_grad()
        nn.functional.cross_entropy(
            model(x[i : i + 1]), y[i : i + 1]
        ).backward()
        for name, p in model.named_parameters():
            rows[name].append(p.grad.clone())
    return {name: torch.stack(g) for name, g in rows.items()}
# --8<-- [end:loop]


def flat_norms(grads: dict[str, Tensor]) -> Tensor:
    """Norm of each example's whole gradient vector, shape (N,)."""
    return torch.cat([g.flatten(1) for g in grads.values()], dim=1).norm(dim=1)


def main() -> None:
    torch.manual_seed(0)
    n, d, classes = 256, 16, 4
    x = torch.randn(n, d)
    y = (x[:, :classes] + 0.5 * torch.randn(n, classes)).argmax(
        dim=1
    )  # noisy labels
    model = nn.Sequential(nn.Linear(d, 32), nn.Tanh(), nn.Linear(32, classes))

    fast = per_example_grads(model, x, y)
    slow = per_example_grads_loop(model, x, y)
    same = all(torch.allclose(fast[k], slow[k], atol=1e-6) for k in fast)
    print(f"shapes: {[tuple(g.shape) for g in fast.values()]}")
    print(f"vmap equals the loop (atol 1e-6): {same}")

    model.zero_grad()
    nn.functional.cross_entropy(
        model(x), y
    ).backward()  # mean loss over the batch
    batch_grad = {name: p.grad for name, p in model.named_parameters()}
    same = all(
        torch.allclose(fast[k].mean(0), batch_grad[k], atol=1e-6) for k in fast
    )
    print(
        "mean of per-example grads equals the batch gradient (atol 1e-6): "
        f"{same}"
    )

    norms = flat_norms(fast)
    batch_norm = flat_norms(
        {k: g.unsqueeze(0) for k, g in batch_grad.items()}
    ).item()
    print(
        f"per-example |g_i|: median {norms.median():.4f}, max {norms.max():.4f}"
    )
    print(f"|mean gradient| = {batch_norm:.4f}")

    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    ax.hist(norms.numpy(), bins=40, color="C0", label=r"per-example $\|g_i\|$")
    ax.axvline(
        batch_norm,
        color="C1",
        linestyle="--",
        label=r"$\|\frac{1}{N}\sum_i g_i\|$",
    )
    ax.set_title(f"Per-example gradient norms of an MLP classifier (N = {n})")
    ax.set_xlabel(r"gradient norm $\|g\|_2$")
    ax.set_ylabel("number of examples")
    ax.set_xlim(left=0)
    ax.legend()
    plt.show()


if __name__ == "__main__":
    main()
