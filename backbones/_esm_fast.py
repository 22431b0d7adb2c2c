"""A lean forward pass of a fair-esm ESM-2 model up to one layer, with the same weights.

fair-esm's ``ESM2.forward`` runs every block, the language-model head and
attention written out as ``bmm`` + softmax + ``bmm`` in a ``(T, B, D)`` layout
with several transposed copies. For embeddings only the blocks up to the wanted
layer matter, so this pass:

* stops after the wanted layer (the final layer norm only when it is the last);
* never computes the language-model or contact heads;
* projects queries, keys and values with one matrix product;
* uses :func:`torch.nn.functional.scaled_dot_product_attention` (fused kernels
  on CPU and GPU) in a ``(B, H, T, hd)`` layout.

It reads the modules of the fair-esm model, so the weights are the same, and
gives fair-esm's representations to float32 rounding (the backbone tests
check this). Gradients flow as usual, so fine-tuning uses it too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def esm2_representation(model: nn.Module, tokens: torch.Tensor, layer: int) -> torch.Tensor:
    """The representation at ``layer`` (0 = embeddings, n = last, layer-normed) of ESM-2.

    Shapes:
        tokens ``(B, T)`` with BOS/EOS/padding -> ``(B, T, D)``.
    """
    padding = tokens.eq(model.padding_idx)  # (B, T)
    x = model.embed_scale * model.embed_tokens(tokens)  # (B, T, D)
    if model.token_dropout:
        masked = tokens.eq(model.mask_idx)  # (B, T)
        x = x.masked_fill(masked.unsqueeze(-1), 0.0)
        observed = masked.sum(-1).to(x.dtype) / (~padding).sum(-1)  # (B,)
        x = x * (1 - 0.15 * 0.8) / (1 - observed)[:, None, None]
    x = x * (~padding).unsqueeze(-1).to(x.dtype)
    keep = None if not padding.any() else (~padding)[:, None, None, :]  # (B, 1, 1, T)
    for block in model.layers[:layer]:
        x = _block(block, x, keep)
    if layer == model.num_layers:
        x = model.emb_layer_norm_after(x)
    return x


def _block(block: nn.Module, x: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """One ESM-2 transformer block (pre-norm attention, then pre-norm feed-forward).

    Shapes:
        x ``(B, T, D)`` -> ``(B, T, D)``.
    """
    att = block.self_attn
    b, t, d = x.shape
    h = block.self_attn_layer_norm(x)
    weight = torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight])  # (3D, D)
    bias = torch.cat([att.q_proj.bias, att.k_proj.bias, att.v_proj.bias])  # (3D,)
    qkv = F.linear(h, weight, bias).view(b, t, 3, att.num_heads, att.head_dim)  # (B, T, 3, H, hd)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # (B, H, T, hd) each
    q, k = att.rot_emb(q, k)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)  # (B, H, T, hd)
    x = x + att.out_proj(out.transpose(1, 2).reshape(b, t, d))  # (B, T, D)
    h = F.gelu(block.fc1(block.final_layer_norm(x)))  # (B, T, F)
    return x + block.fc2(h)
