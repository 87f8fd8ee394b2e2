"""Checks for transformer_ln_grads.py: the blocks, the init, and the gradient claims."""

from __future__ import annotations

import itertools
import math

import deepnorm as dn
import pytest
import torch
import torch.nn.functional as F
import transformer_ln_grads as tlg


def hand_attention(block, x):
    """Causal multi-head attention written out: softmax(q k^T / sqrt(d_head) + mask) v."""
    b, t, d = x.shape
    h = block.heads
    q, k, v = (
        z.view(b, t, h, d // h).transpose(1, 2) for z in (block.q(x), block.k(x), block.v(x))
    )
    scores = q @ k.transpose(-1, -2) / math.sqrt(d // h)
    mask = torch.triu(torch.ones(t, t, dtype=torch.bool, device=x.device), diagonal=1)
    out = scores.masked_fill(mask, float("-inf")).softmax(dim=-1) @ v
    return block.o(out.transpose(1, 2).reshape(b, t, d))


def test_attention_is_causal_softmax_attention(device):
    torch.manual_seed(0)
    block = tlg.Block(32, 4, pre_ln=True).to(device)
    x = torch.randn(2, 10, 32, device=device)
    torch.testing.assert_close(block.attention(x), hand_attention(block, x), rtol=1e-5, atol=1e-5)


def test_pre_and_post_ln_blocks_follow_their_formulas(device):
    torch.manual_seed(1)
    x = torch.randn(3, 8, 32, device=device)
    pre = tlg.Block(32, 4, pre_ln=True).to(device)
    h = x + pre.attention(pre.ln1(x))
    torch.testing.assert_close(pre(x), h + pre.ffn(pre.ln2(h)))  # x + F(LN(x)), twice
    post = tlg.Block(32, 4, pre_ln=False).to(device)
    h = F.layer_norm(x + post.attention(x), (32,))
    torch.testing.assert_close(post(x), F.layer_norm(h + post.ffn(h), (32,)))  # LN(x + F(x))
    out = post(x)  # a Post-LN block ends in a LayerNorm: every row is normalised
    torch.testing.assert_close(out.mean(-1), torch.zeros(3, 8, device=device), atol=1e-5, rtol=0)
    deep = tlg.Block(32, 4, pre_ln=False, alpha=2.0).to(device)
    h = F.layer_norm(2.0 * x + deep.attention(x), (32,))
    torch.testing.assert_close(deep(x), F.layer_norm(2.0 * h + deep.ffn(h), (32,)))


@pytest.mark.parametrize("norm", ["pre", "post", "deepnorm"])
def test_language_model_is_causal(norm, device):
    torch.manual_seed(2)
    model = tlg.TinyLM(40, 32, 3, 4, 16, norm).to(device)
    idx = torch.randint(40, (2, 16), device=device)
    changed = idx.clone()
    changed[:, 9:] = (changed[:, 9:] + 1) % 40
    torch.testing.assert_close(model(idx)[:, :9], model(changed)[:, :9])
    assert (model(idx)[:, 9:] - model(changed)[:, 9:]).abs().max() > 1e-4


def test_xavier_and_deepnorm_init(device):
    layers, d = 8, 256
    torch.manual_seed(3)
    post = tlg.TinyLM(10, d, layers, 4, 4, "post").to(device)
    torch.manual_seed(3)
    deep = tlg.TinyLM(10, d, layers, 4, 4, "deepnorm").to(device)
    alpha, beta = dn.deepnorm_constants("decoder-only", n_dec=layers)["decoder"]
    assert all(block.alpha == pytest.approx(alpha) for block in deep.blocks)
    assert all(block.alpha == 1 for block in post.blocks)
    for name in ["q", "k", "v", "o", "fc1", "fc2"]:
        w_post = torch.cat([getattr(b, name).weight.flatten() for b in post.blocks])
        w_deep = torch.cat([getattr(b, name).weight.flatten() for b in deep.blocks])
        fan_in, fan_out = (
            getattr(post.blocks[0], name).in_features,
            getattr(post.blocks[0], name).out_features,
        )
        xavier = math.sqrt(2 / (fan_in + fan_out))
        gain = beta if name in ("v", "o", "fc1", "fc2") else 1.0
        assert w_post.std().item() == pytest.approx(xavier, rel=0.02)
        assert w_deep.std().item() == pytest.approx(gain * xavier, rel=0.02)
        assert torch.count_nonzero(getattr(post.blocks[0], name).bias) == 0
    torch.manual_seed(3)
    default = tlg.TinyLM(10, d, layers, 4, 4, "post", init="default").to(device)
    bound = 1 / math.sqrt(d)  # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert default.blocks[0].q.weight.abs().max() <= bound
    assert default.blocks[0].q.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    with pytest.raises(AssertionError):
        tlg.TinyLM(10, d, 2, 4, 4, "deepnorm", init="default")


def test_ffn_grad_norms_are_the_fc2_weight_gradients(device):
    torch.manual_seed(4)
    model = tlg.TinyLM(20, 16, 3, 4, 8, "pre").to(device)
    idx, tgt = (torch.randint(20, (2, 8), device=device) for _ in range(2))
    norms = tlg.ffn_grad_norms(model, idx, tgt)
    logits = model(idx)
    loss = F.cross_entropy(logits.reshape(-1, 20), tgt.reshape(-1))
    grads = torch.autograd.grad(loss, [b.fc2.weight for b in model.blocks])
    assert norms == pytest.approx([g.norm().item() for g in grads], rel=1e-5)


def test_ffn_grad_factors_are_fc2_input_and_output_gradient(device):
    """dL/dW2 = sum over tokens of delta h^T: the factors are fc2's input and the gradient at
    its output, and their outer product gives the weight gradient."""
    torch.manual_seed(4)
    model = tlg.TinyLM(20, 16, 3, 4, 8, "deepnorm").to(device)
    idx, tgt = (torch.randint(20, (2, 8), device=device) for _ in range(2))
    hidden, delta = tlg.ffn_grad_factors(model, idx, tgt)
    block = model.blocks[1]
    x = torch.randn(2, 8, 16, device=device)
    assert len(hidden) == len(delta) == 3
    assert all(h > 0 for h in hidden) and all(d > 0 for d in delta)
    # the hooks are gone afterwards: a plain forward pass leaves no state behind
    assert not block.fc2._forward_hooks
    with torch.no_grad():
        assert torch.equal(block.ffn(x), block.fc2(torch.relu(block.fc1(x))))


def test_deepnorm_gradient_gap_comes_from_beta_and_alpha(device):
    """The page: DeepNorm's W2 gradient is about ten times below Post-LN's. W2's input is beta
    times Post-LN's (W1 has gain beta), and the gap as a whole is near beta / alpha."""
    layers = 12
    alpha, beta = (2 * layers) ** 0.25, (8 * layers) ** -0.25
    hidden = {}
    for norm in ("post", "deepnorm"):
        total = torch.zeros(layers)
        for seed in range(100, 104):
            torch.manual_seed(seed)
            model = tlg.TinyLM(64, 64, layers, 4, 32, norm).to(device)
            idx, tgt = (torch.randint(64, (8, 32), device=device) for _ in range(2))
            total += torch.tensor(tlg.ffn_grad_factors(model, idx, tgt)[0])
        hidden[norm] = total
    ratio = hidden["deepnorm"] / hidden["post"]
    assert ((ratio / beta - 1).abs() < 0.1).all()
    post, deep = (
        torch.tensor(tlg.mean_ffn_grad_norms(n, layers, seeds=range(100, 104), device=device))
        for n in ("post", "deepnorm")
    )
    gap = deep / post
    assert ((gap > 0.5 * beta / alpha) & (gap < 1.1 * beta / alpha)).all()
    assert (gap < 0.15).all()


# The page's reading of the figures, checked on seeds other than the ones it shows.
SEEDS = range(100, 112)


def test_per_layer_profile_at_initialisation(device):
    post, pre, deep = (
        tlg.mean_ffn_grad_norms(n, 12, seeds=SEEDS, device=device)
        for n in ("post", "pre", "deepnorm")
    )
    assert pre[0] / pre[-1] > 2.0  # Pre-LN: falls by more than half toward the output
    assert all(a > b for a, b in itertools.pairwise(pre[:7]))
    assert max(deep) / min(deep) < 1.1  # DeepNorm: level
    assert max(post) / min(post) < 1.6  # Post-LN: roughly level
    assert post[-1] / pre[-1] > 2.5  # Post-LN's last layer gets a much larger gradient


def test_pre_ln_last_layer_gradient_falls_with_depth(device):
    """Quick version of the next test: Pre-LN, 6 vs 24 layers."""
    g6, g24 = (
        tlg.mean_ffn_grad_norms("pre", n, seeds=range(100, 106), device=device)[-1] for n in (6, 24)
    )
    assert 0.45 < g24 / g6 < 0.8  # 1/sqrt(4) = 0.5 would be Xiong et al.'s rate


@pytest.mark.slow
def test_last_layer_gradient_vs_depth(device):
    depths = [6, 12, 24, 48]

    def last(norm, init):
        return [
            tlg.mean_ffn_grad_norms(norm, n, init, seeds=range(100, 106), device=device)[-1]
            for n in depths
        ]

    pre = last("pre", "xavier")
    assert all(a > b for a, b in itertools.pairwise(pre))  # falls with depth ...
    assert 0.3 < pre[-1] / pre[0] < 0.65  # ... a little slower than 1/sqrt(L) = 0.354
    post = last("post", "xavier")
    assert all(0.8 < g / post[0] < 1.6 for g in post)  # does not fall with depth
    post_default = last("post", "default")
    assert post_default[-1] / post_default[0] > 1.15  # default init: grows with depth
    pre_default = last("pre", "default")
    assert pre_default[-1] / pre_default[0] < 0.85


# The "Get it right" box: which placement real implementations use.
def _first_tensor(args, kwargs):
    if args and torch.is_tensor(args[0]):
        return args[0]
    return kwargs["hidden_states"]


def _record(module, store, key, what="input"):
    def hook(mod, args, kwargs, output):
        out = output[0] if isinstance(output, tuple) else output
        store[key] = (_first_tensor(args, kwargs) if what == "input" else out).detach()
        store.setdefault("order", []).append(key)

    return module.register_forward_hook(hook, with_kwargs=True)


def test_torch_transformer_layer_is_post_ln_by_default():
    assert torch.nn.TransformerEncoderLayer(16, 2).norm_first is False
    assert torch.nn.TransformerDecoderLayer(16, 2).norm_first is False


def test_gpt2_is_pre_ln():
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=11, n_positions=8)
    model = transformers.GPT2Model(config).eval()
    block, seen = model.h[0], {}
    for name in ["ln_1", "attn", "ln_2", "mlp"]:
        _record(getattr(block, name), seen, name, "output" if name in ("attn", "mlp") else "input")
    _record(block, seen, "block_in")
    _record(block, seen, "block_out", "output")
    with torch.no_grad():
        model(torch.randint(11, (1, 8)))
    assert seen["order"][:4] == ["ln_1", "attn", "ln_2", "mlp"]
    torch.testing.assert_close(seen["ln_1"], seen["block_in"])  # LN on the stream, before F
    torch.testing.assert_close(seen["block_out"], seen["block_in"] + seen["attn"] + seen["mlp"])
    assert isinstance(model.ln_f, torch.nn.LayerNorm)  # the final LayerNorm


def test_bert_is_post_ln():
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(
        vocab_size=11,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=8,
    )
    model = transformers.BertModel(config).eval()
    layer, seen = model.encoder.layer[0], {}
    _record(layer, seen, "layer_in")
    _record(layer.attention.output.dense, seen, "attn_dense", "output")
    _record(layer.attention.output.LayerNorm, seen, "ln_in")
    _record(layer.attention.output.LayerNorm, seen, "ln_out", "output")
    _record(layer, seen, "layer_out", "output")
    with torch.no_grad():
        model(torch.randint(11, (1, 8)))
    torch.testing.assert_close(seen["ln_in"], seen["layer_in"] + seen["attn_dense"])  # LN(x + F(x))
    out = seen["layer_out"]  # every layer ends in a LayerNorm
    torch.testing.assert_close(out.mean(-1), torch.zeros_like(out.mean(-1)), atol=1e-5, rtol=0)


def test_llama_is_pre_ln_with_rmsnorm():
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(
        vocab_size=11,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=8,
    )
    model = transformers.LlamaModel(config).eval()
    layer, seen = model.layers[0], {}
    assert "RMSNorm" in type(layer.input_layernorm).__name__
    _record(layer, seen, "layer_in")
    _record(layer.input_layernorm, seen, "norm_in")
    _record(layer.self_attn, seen, "attn", "output")
    _record(layer.mlp, seen, "mlp", "output")
    _record(layer, seen, "layer_out", "output")
    with torch.no_grad():
        model(torch.randint(11, (1, 8)))
    assert seen["order"].index("norm_in") < seen["order"].index("attn")
    torch.testing.assert_close(seen["norm_in"], seen["layer_in"])
    torch.testing.assert_close(seen["layer_out"], seen["layer_in"] + seen["attn"] + seen["mlp"])
