"""A value used twice: its gradient is the sum of the gradients of its uses."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch


# --8<-- [start:paths]
def forward(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """x feeds two paths that meet in the loss: L = u v, u = sin x, v = x^2."""
    u = torch.sin(x)
    v = x**2
    return {"x": x, "u": u, "v": v, "L": u * v}


def path_gradients(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """One product of local derivatives per path from x to L."""
    f = forward(x)
    dL_du, dL_dv = f["v"], f["u"]  # L = u v
    du_dx, dv_dx = torch.cos(x), 2 * x
    return {"via u": dL_du * du_dx, "via v": dL_dv * dv_dx}


def dL_dx_sum_over_paths(x: torch.Tensor) -> torch.Tensor:
    p = path_gradients(x)
    return p["via u"] + p["via v"]


def dL_dx_autograd(x: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    forward(x)["L"].sum().backward()
    return x.grad


def dL_dx_one_path(x: torch.Tensor, keep: str) -> torch.Tensor:
    """Autograd with the other use of x detached: only the path via `keep`."""
    x = x.detach().requires_grad_(True)
    u = torch.sin(x if keep == "u" else x.detach())
    v = (x if keep == "v" else x.detach()) ** 2
    (u * v).sum().backward()
    return x.grad
# --8<-- [end:paths]


def draw_graph(x: torch.Tensor) -> None:
    """The graph with forward values (black) and gradients (red)."""
    f = {k: t.item() for k, t in forward(x).items()}
    p = {k: t.item() for k, t in path_gradients(x).items()}
    pos = {"x": (0, 0), "u": (1, 0.55), "v": (1, -0.55), "L": (2, 0)}
    local = {
        ("x", "u"): ("cos x", torch.cos(x).item()),
        ("x", "v"): ("2x", 2 * x.item()),
        ("u", "L"): ("v", f["v"]),
        ("v", "L"): ("u", f["u"]),
    }
    grads = {"L": 1.0, "u": f["v"], "v": f["u"], "x": p["via u"] + p["via v"]}
    forms = {"x": "x", "u": r"u=\sin x", "v": "v=x^2", "L": "L=uv"}
    _, ax = plt.subplots(figsize=(8, 4.2), layout="constrained")
    for (a, b), (name, val) in local.items():
        (xa, ya), (xb, yb) = pos[a], pos[b]
        ax.annotate(
            "",
            xy=(xb, yb),
            xytext=(xa, ya),
            arrowprops={
                "arrowstyle": "-|>",
                "color": "0.4",
                "lw": 1.5,
                "shrinkA": 26,
                "shrinkB": 26,
            },
        )
        label = f"$\\partial {b}/\\partial {a}$ = {name} = {val:.4g}"
        ax.text(
            (xa + xb) / 2,
            (ya + yb) / 2 + 0.1,
            label,
            ha="center",
            fontsize=9,
            rotation=30 if yb > ya else -30,
            rotation_mode="anchor",
        )
    for k, (px, py) in pos.items():
        ax.text(
            px,
            py,
            f"${k}$",
            ha="center",
            va="center",
            fontsize=14,
            bbox={"boxstyle": "circle,pad=0.5", "fc": "white", "ec": "black"},
        )
        ax.text(
            px,
            py + 0.24,
            f"${forms[k]}$ = {f[k]:.4g}",
            ha="center",
            fontsize=10,
        )
        grad = rf"$\partial L/\partial {k}$ = {grads[k]:.4g}"
        ax.text(px, py - 0.26, grad, ha="center", fontsize=10, color="C3")
    ax.text(
        0,
        -0.5,
        f"= {p['via u']:.4g} (via u)\n+ {p['via v']:.4g} (via v)",
        ha="center",
        va="top",
        fontsize=10,
        color="C3",
    )
    title = f"x = {x.item():g} used twice: dL/dx is the sum over its two paths"
    ax.set(xlim=(-0.45, 2.45), ylim=(-0.95, 0.95), title=title)
    ax.axis("off")
    plt.show()


def main() -> None:
    torch.manual_seed(0)  # nothing is random; kept by the snippet contract
    x = torch.tensor(3.0, dtype=torch.float64)
    f = forward(x)
    p = path_gradients(x)
    print(
        f"forward at x = {x.item():g}: u = {f['u'].item():.4g}, "
        f"v = {f['v'].item():.4g}, L = {f['L'].item():.4g}"
    )
    print(f"path through u: {p['via u'].item():>8.4g}   dL/du du/dx = v cos x")
    print(f"path through v: {p['via v'].item():>8.4g}   dL/dv dv/dx = u 2x")
    print(f"sum over paths: {dL_dx_sum_over_paths(x).item():>8.4g}")
    print(f"x.grad:         {dL_dx_autograd(x).item():>8.4g}   autograd")
    for keep in ("u", "v"):
        g = dL_dx_one_path(x, keep).item()
        print(f"only the use in {keep}: {g:>8.4g}   autograd, other detached")
    draw_graph(x)


if __name__ == "__main__":
    main()
