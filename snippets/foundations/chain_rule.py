"""The chain rule three ways, reverse-mode Jacobian products, a step's order."""

from __future__ import annotations

import torch


# --8<-- [start:scalar]
def h(x: torch.Tensor) -> torch.Tensor:
    return x**2


def g(u: torch.Tensor) -> torch.Tensor:
    return torch.sin(u)


def f(v: torch.Tensor) -> torch.Tensor:
    return torch.exp(v)


def dL_dx_by_hand(x: torch.Tensor) -> torch.Tensor:
    """d/dx exp(sin(x^2)), differentiated on paper."""
    return torch.exp(torch.sin(x**2)) * torch.cos(x**2) * 2 * x


def dL_dx_local_derivatives(
    x: torch.Tensor,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Forward pass keeping u and v, then the product of local derivatives,
    output side first."""
    u = h(x)
    v = g(u)
    local = [torch.exp(v), torch.cos(u), 2 * x]  # df/dv, dg/du, dh/dx
    grad = torch.ones_like(x)  # dL/dL = 1, with L = f(v)
    for d in local:
        grad = grad * d
    return grad, local


def dL_dx_autograd(x: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(g(h(x))).sum(), x)
    return grad
# --8<-- [end:scalar]


# --8<-- [start:vector]
def vector_chain(
    x: torch.Tensor, A: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """L = 1/2 ||tanh(A x) - t||^2 with x: (n,), A: (m, n), t: (m,)."""
    return 0.5 * (torch.tanh(A @ x) - t).pow(2).sum()


def jacobians(
    x: torch.Tensor, A: torch.Tensor, t: torch.Tensor
) -> list[torch.Tensor]:
    """The three Jacobians, written out: dL/dv (1, m), dv/du (m, m), du/dx (m,
    n)."""
    v = torch.tanh(A @ x)
    return [(v - t).unsqueeze(0), torch.diag(1 - v**2), A]


def grad_by_vjp(
    x: torch.Tensor, A: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """Reverse mode: push a vector backward through each step; no Jacobian is
    ever built."""
    v = torch.tanh(A @ x)
    v_bar = v - t  # dL/dv, shape (m,)
    u_bar = v_bar * (1 - v**2)  # v_bar @ diag(1 - v^2), shape (m,)
    return A.T @ u_bar  # u_bar @ A, shape (n,)
# --8<-- [end:vector]


# --8<-- [start:training_step]
def training_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
) -> float:
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()  # p.grad += dloss/dp for every parameter p
    optimizer.step()  # plain SGD: p <- p - lr * p.grad
    optimizer.zero_grad()  # p.grad <- None, so the next backward starts fresh
    return loss.item()
# --8<-- [end:training_step]


def main() -> None:
    torch.manual_seed(0)
    x = torch.tensor([0.3, 1.1, 2.0], dtype=torch.float64)
    grad_local, local = dL_dx_local_derivatives(x)
    print("scalar chain L = exp(sin(x^2)) at x = 0.3, 1.1, 2.0")
    for name, value in [
        ("df/dv", local[0]),
        ("dg/du", local[1]),
        ("dh/dx", local[2]),
        ("by hand", dL_dx_by_hand(x)),
        ("local product", grad_local),
        ("autograd", dL_dx_autograd(x)),
    ]:
        print(f"{name:>14}: " + "  ".join(f"{val:+.6f}" for val in value))

    n, m = 3, 4
    xv = torch.randn(n, dtype=torch.float64)
    A = torch.randn(m, n, dtype=torch.float64)
    t = torch.randn(m, dtype=torch.float64)
    J = jacobians(xv, A, t)
    print("\nvector chain L = 1/2 ||tanh(A x) - t||^2")
    print("Jacobian shapes:", ", ".join(str(tuple(j.shape)) for j in J))
    product = (J[0] @ J[1] @ J[2]).squeeze(0)
    autograd = torch.func.grad(vector_chain)(xv, A, t)
    print("product of Jacobians:", "  ".join(f"{val:+.6f}" for val in product))
    print(
        "reverse mode (VJPs): ",
        "  ".join(f"{val:+.6f}" for val in grad_by_vjp(xv, A, t)),
    )
    print("autograd:            ", "  ".join(f"{val:+.6f}" for val in autograd))

    model = torch.nn.Linear(n, 1).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    X, Y = (
        torch.randn(8, n, dtype=torch.float64),
        torch.randn(8, 1, dtype=torch.float64),
    )
    loss = torch.nn.functional.mse_loss(model(X), Y)
    loss.backward()
    once = model.weight.grad.clone()
    torch.nn.functional.mse_loss(model(X), Y).backward()
    ratio = (model.weight.grad / once).max()
    print(
        "\n.grad after a second backward without zero_grad: "
        f"{ratio:.3f} x the first"
    )
    optimizer.zero_grad()
    print(f".grad after zero_grad(): {model.weight.grad}")
    losses = [training_step(model, optimizer, X, Y) for _ in range(5)]
    print(
        "loss over 5 training steps:", "  ".join(f"{val:.4f}" for val in losses)
    )


if __name__ == "__main__":
    main()
