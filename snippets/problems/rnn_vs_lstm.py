"""How far back gradients reach over 100 steps: RNN vs LSTM, its forget gate."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from torch import nn


# --8<-- [start:steps]
def rnn_step_jacobian(
    cell: nn.RNNCell, x: torch.Tensor, h: torch.Tensor
) -> torch.Tensor:
    """dh_t/dh_{t-1} = diag(1 - h_t^2) W_hh for h_t = tanh(W_ih x + b_ih + W_hh
    h + b_hh)."""
    h_next = cell(x, h)
    return (1 - h_next**2)[:, None] * cell.weight_hh


def lstm_step(
    cell: nn.LSTMCell, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One LSTM step written out; returns h_t, c_t and the forget gate f_t."""
    gates = (
        x @ cell.weight_ih.T
        + cell.bias_ih
        + h @ cell.weight_hh.T
        + cell.bias_hh
    )
    i, f, g, o = gates.chunk(4, dim=-1)  # PyTorch's gate order
    i, f, g, o = (
        torch.sigmoid(i),
        torch.sigmoid(f),
        torch.tanh(g),
        torch.sigmoid(o),
    )
    c_next = f * c + i * g  # the additive cell path: dc_t/dc_{t-1} = diag(f_t)
    return o * torch.tanh(c_next), c_next, f
# --8<-- [end:steps]


def set_forget_bias(cell: nn.LSTMCell, value: float) -> nn.LSTMCell:
    """Set the total forget-gate bias b_if + b_hf to `value` (f = sigmoid(value)
    at zero input)."""
    hidden = cell.hidden_size
    with torch.no_grad():
        cell.bias_ih[hidden : 2 * hidden] = value
        cell.bias_hh[hidden : 2 * hidden] = 0.0
    return cell


# --8<-- [start:grads]
def input_grad_norms(
    cell: nn.Module, x: torch.Tensor
) -> tuple[list[float], float]:
    """||dL/dx_t|| for every step t of x (T, batch, n_in), L from the last
    hidden state only.

    Also returns the mean forget gate (nan for a vanilla RNN)."""
    x = x.clone().requires_grad_(True)
    batch, hidden = x.shape[1], cell.hidden_size
    h = x.new_zeros(batch, hidden)  # on x's device, in its dtype
    c = x.new_zeros(batch, hidden)
    forget = []
    for t in range(x.shape[0]):
        if isinstance(cell, nn.LSTMCell):
            h, c, f = lstm_step(cell, x[t], h, c)
            forget.append(f)
        else:
            h = cell(x[t], h)
    loss = 0.5 * (h**2).sum() / batch
    loss.backward()
    mean_f = float(torch.stack(forget).detach().mean()) if forget else math.nan
    return [float(g.norm()) for g in x.grad], mean_f
# --8<-- [end:grads]


def main() -> None:
    torch.manual_seed(0)
    steps, batch, n_in, hidden = 100, 16, 4, 32
    x = torch.randn(steps, batch, n_in)

    torch.manual_seed(1)
    rnn = nn.RNNCell(n_in, hidden)
    torch.manual_seed(1)
    rnn_orth = nn.RNNCell(n_in, hidden)
    nn.init.orthogonal_(rnn_orth.weight_hh)
    cells = {"RNN, default init": rnn, "RNN, orthogonal $W_{hh}$": rnn_orth}
    for bias in [0.0, 1.0, 3.0]:
        torch.manual_seed(1)
        lstm = nn.LSTMCell(n_in, hidden)
        if bias:
            set_forget_bias(lstm, bias)
        label = (
            "LSTM, default init" if bias == 0 else f"LSTM, forget bias {bias:g}"
        )
        cells[label] = lstm

    results = {}
    print(
        f"{steps} steps, loss on the last hidden state; "
        f"ratio = ||dL/dx_1|| / ||dL/dx_{steps}||"
    )
    print(f"{'model':26s} {'ratio':>10s} {'mean f':>7s}")
    for name, cell in cells.items():
        norms, mean_f = input_grad_norms(cell, x)
        results[name] = norms
        shown = name.replace("$W_{hh}$", "W_hh")
        f_text = "-" if math.isnan(mean_f) else f"{mean_f:.3f}"
        print(f"{shown:26s} {norms[0] / norms[-1]:10.3e} {f_text:>7s}")

    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    styles = ["C0-", "C0:", "C1--", "C2-.", "C3-"]
    for (name, norms), style in zip(results.items(), styles, strict=True):
        ax.semilogy(range(1, steps + 1), norms, style, label=name)
    ax.set(
        title="How much of the loss gradient reaches each input step",
        xlabel="time step $t$ (the loss is computed after step 100)",
        ylabel=r"$\|\partial L/\partial x_t\|$ (log)",
    )
    ax.legend(fontsize=8)
    plt.show()


if __name__ == "__main__":
    main()
