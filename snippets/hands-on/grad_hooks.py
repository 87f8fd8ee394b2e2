"""Gradient hooks in backward: tensor, module, post-accumulate parameter."""

import itertools

import torch
from torch import Tensor, nn


def make_mlp(widths: list[int]) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between them."""
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(widths):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


# --8<-- [start:tensor]
def hidden_grad_by_hook(
    mlp: nn.Sequential, x: Tensor, scale: float = 1.0
) -> Tensor:
    """dL/da1 seen by a tensor hook on the first hidden activation; the hook
    also rescales it."""
    seen: list[Tensor] = []

    def hook(grad: Tensor) -> Tensor:
        seen.append(grad.detach().clone())  # dL/da1, shape (N, H)
        return (
            grad * scale
        )  # what we return replaces dL/da1 for everything upstream

    a1 = mlp[1](mlp[0](x))
    a1.register_hook(hook)
    mlp[2:](a1).pow(2).mean().backward()
    return seen[0]
# --8<-- [end:tensor]


# --8<-- [start:module]
def linear_grads_by_module_hooks(
    model: nn.Module, x: Tensor
) -> dict[str, tuple[Tensor, Tensor]]:
    """For every nn.Linear: (dL/d input, dL/d output) captured by full backward
    hooks."""
    store: dict[str, tuple[Tensor, Tensor]] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):

            def hook(
                mod: nn.Module, grad_input: tuple, grad_output: tuple, name=name
            ) -> None:
                store[name] = (
                    grad_input[0],
                    grad_output[0],
                )  # gradients w.r.t. activations

            handles.append(module.register_full_backward_hook(hook))
    x = (
        x.clone().requires_grad_()
    )  # otherwise the first layer's grad_input[0] is None
    model(x).pow(2).mean().backward()
    for handle in handles:
        handle.remove()
    return store
# --8<-- [end:module]


# --8<-- [start:param]
def param_grad_norms_by_hook(model: nn.Module, x: Tensor) -> dict[str, float]:
    """Each parameter's gradient norm, recorded the moment its .grad has been
    accumulated."""
    norms: dict[str, float] = {}
    handles = []
    for name, param in model.named_parameters():

        def hook(p: nn.Parameter, name: str = name) -> None:
            norms[name] = p.grad.norm().item()  # .grad is complete here

        handles.append(param.register_post_accumulate_grad_hook(hook))
    model(x).pow(2).mean().backward()
    for handle in handles:
        handle.remove()
    return norms
# --8<-- [end:param]


def main() -> None:
    torch.manual_seed(0)
    mlp = make_mlp([8, 32, 32, 32, 1])
    x = torch.randn(64, 8)  # N = 64 examples, D = 8 features

    grad_a1 = hidden_grad_by_hook(mlp, x)
    print(
        f"tensor hook: dL/da1 shape {tuple(grad_a1.shape)}, "
        f"norm {grad_a1.norm():.4f}"
    )
    w1_grad = mlp[0].weight.grad.clone()
    mlp.zero_grad()
    hidden_grad_by_hook(mlp, x, scale=0.5)
    ratio = mlp[0].weight.grad.norm() / w1_grad.norm()
    print(f"hook returning 0.5*grad: |W1.grad| ratio {ratio:.4f}")

    mlp.zero_grad()
    for name, (g_in, g_out) in linear_grads_by_module_hooks(mlp, x).items():
        print(
            f"Linear {name}: dL/d input  {tuple(g_in.shape)!s:<8} "
            f"norm {g_in.norm():.3e}"
        )
        print(
            f"          dL/d output {tuple(g_out.shape)!s:<8} "
            f"norm {g_out.norm():.3e}"
        )

    mlp.zero_grad()
    for name, norm in param_grad_norms_by_hook(mlp, x).items():
        print(f"post-accumulate hook {name:<8} |grad| = {norm:.3e}")


if __name__ == "__main__":
    main()
