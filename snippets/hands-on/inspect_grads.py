"""Reading .grad: accumulation, zero_grad, retain_grad and autograd.grad."""

import torch
from torch import Tensor, nn


# --8<-- [start:loop]
def grad_norms(model: nn.Module) -> dict[str, float]:
    """L2 norm of each parameter's .grad, keyed by name; parameters without a
    .grad are skipped."""
    return {
        name: param.grad.norm().item()
        for name, param in model.named_parameters()
        if param.grad is not None
    }
# --8<-- [end:loop]


def linear_mse_grads(
    W: Tensor, b: Tensor, x: Tensor, y: Tensor
) -> tuple[Tensor, Tensor]:
    """Hand gradients of mean((x W^T + b - y)^2) for x (N, D), W (1, D), b (1,),
    y (N, 1)."""
    r = x @ W.T + b - y  # (N, 1)
    n = r.numel()
    return 2 * r.T @ x / n, 2 * r.sum(0) / n


# --8<-- [start:accumulate]
def grad_after_backwards(
    model: nn.Linear, x: Tensor, y: Tensor, times: int
) -> Tensor:
    """The weight's .grad after `times` forward/backward passes with no
    zero_grad in between."""
    model.zero_grad(set_to_none=True)
    for _ in range(times):
        nn.functional.mse_loss(model(x), y).backward()  # adds into .grad
    return model.weight.grad.clone()
# --8<-- [end:accumulate]


# --8<-- [start:intermediate]
def hidden_grad(
    mlp: nn.Sequential, x: Tensor
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """dL/da1 of the hidden activation a1 of Linear-ReLU-Linear (retain_grad),
    and dL/dW2."""
    mlp.zero_grad()
    a1 = mlp[1](
        mlp[0](x)
    )  # a non-leaf tensor: its .grad is not kept by default
    a1.retain_grad()
    loss = mlp[2](a1).pow(2).mean()
    dloss_dW2 = torch.autograd.grad(
        loss, mlp[2].weight, retain_graph=True
    )  # .grad untouched
    loss.backward()
    return a1.grad, dloss_dW2
# --8<-- [end:intermediate]


def main() -> None:
    torch.manual_seed(0)
    model = nn.Linear(10, 1)
    x, y = torch.randn(4, 10), torch.randn(4, 1)  # a batch of N = 4 examples

    nn.functional.mse_loss(model(x), y).backward()
    for name, norm in grad_norms(model).items():
        print(f"{name:<7} grad norm {norm:.4f}")
    dW, db = linear_mse_grads(model.weight.detach(), model.bias.detach(), x, y)
    match = torch.allclose(dW, model.weight.grad) and torch.allclose(
        db, model.bias.grad
    )
    print(f"hand formula matches .grad: {match}")

    once = grad_after_backwards(model, x, y, times=1)
    thrice = grad_after_backwards(model, x, y, times=3)
    ratio = (thrice / once).mean().item()
    print(f"after 3 backward passes .grad / single .grad = {ratio:.4f}")
    model.zero_grad()  # set_to_none=True is the default
    print(
        f"after zero_grad(): weight.grad is None -> {model.weight.grad is None}"
    )
    nn.functional.mse_loss(model(x), y).backward()
    model.zero_grad(set_to_none=False)
    print(
        "after zero_grad(set_to_none=False): "
        f"sum |grad| = {model.weight.grad.abs().sum():.4f}"
    )

    mlp = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 1))
    a1_grad, (dW2,) = hidden_grad(mlp, x)
    print(f"dL/da1 shape {tuple(a1_grad.shape)}, norm {a1_grad.norm():.4f}")
    same = torch.allclose(dW2, mlp[2].weight.grad)
    print(f"autograd.grad equals .grad from backward(): {same}")


if __name__ == "__main__":
    main()
