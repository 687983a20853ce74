"""A small transformer encoder over recent model inputs -> 3-class logits at every row.

Each row attends only to itself and the ``window - 1`` rows before it
(a banded causal mask, with a learned bias per distance as its notion of
position), so one forward pass over a batch of ``n`` new rows and a short
context of earlier rows gives all ``n`` predictions: about ``n + context``
tokens instead of ``n * window`` for one window per row (20x fewer at 64
rows), which is what keeps the per-batch latency low in the dataflow.
With ``layers`` layers, row ``i`` depends on rows ``i - layers*(window-1)``
.. ``i`` (``context_rows``): feeding that many earlier rows makes the
output exactly independent of how the stream is cut into batches.

Imported only by the ``transformer``/``ensemble`` predictors and by
``flowsense train/evaluate`` (torch takes seconds to import). The input
standardisation lives in the module's buffers, so the exported TorchScript
artifact is all the dataflow needs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class EncoderLayer(nn.Module):
    """Post-norm transformer encoder layer (as ``nn.TransformerEncoderLayer``, ReLU).

    Written out because ``nn.TransformerEncoder``'s inference fast path gives
    NaN with a float (banded) mask in eval mode, eager and scripted (torch
    2.15); ``scaled_dot_product_attention`` has no such path.
    """

    def __init__(self, d_model: int, heads: int, dim_ff: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.ff1 = nn.Linear(d_model, dim_ff)
        self.ff2 = nn.Linear(dim_ff, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        a = nn.functional.scaled_dot_product_attention(
            qkv[0], qkv[1], qkv[2], attn_mask=mask, dropout_p=p
        )
        x = self.norm1(x + self.drop(self.out(a.transpose(1, 2).reshape(b, n, d))))
        return self.norm2(x + self.drop(self.ff2(self.drop(torch.relu(self.ff1(x))))))


class OrderFlowTransformer(nn.Module):
    """Standardise, embed, encode with a banded causal mask, classify every position."""

    def __init__(
        self,
        n_inputs: int,
        window: int,
        d_model: int = 32,
        heads: int = 4,
        layers: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.window = window
        self.layers = layers
        self.register_buffer("mean", torch.zeros(n_inputs))
        self.register_buffer("std", torch.ones(n_inputs))
        self.embed = nn.Linear(n_inputs, d_model)
        self.distance_bias = nn.Parameter(torch.zeros(window))
        self.encoder = nn.ModuleList(
            [EncoderLayer(d_model, heads, 2 * d_model, dropout) for _ in range(layers)]
        )
        self.head = nn.Linear(d_model, 3)

    @property
    def context_rows(self) -> int:
        return self.layers * (self.window - 1)

    def set_scaler(self, x: np.ndarray) -> None:
        """Standardise inputs with the mean and std of training rows ``x`` (n, d)."""
        self.mean.copy_(torch.as_tensor(x.mean(axis=0)))
        self.std.copy_(torch.as_tensor(np.maximum(x.std(axis=0), 1e-6)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, rows, inputs) -> (batch, rows, 3) logits of down, flat, up per row."""
        n = x.size(1)
        idx = torch.arange(n, device=x.device)
        dist = idx.unsqueeze(1) - idx.unsqueeze(0)
        band = (dist >= 0) & (dist < self.window)
        bias = self.distance_bias[dist.clamp(0, self.window - 1)]
        mask = torch.where(band, bias, torch.full_like(bias, float("-inf")))
        h = self.embed((x - self.mean) / self.std)
        for layer in self.encoder:
            h = layer(h, mask)
        return self.head(h)


def export(model: OrderFlowTransformer) -> torch.jit.ScriptModule:
    """TorchScript (scripted, so any number of rows works) in eval mode: the artifact."""
    model.eval()
    return torch.jit.script(model)


def context_rows(model) -> int:
    """Earlier rows one forward pass needs for exact outputs (eager or scripted module)."""
    return int(model.layers) * (int(model.window) - 1)


def predict_proba(model, context: np.ndarray, x: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Class probabilities (n, 3) of the rows ``x`` (n, d), after ``context`` rows (c, d).

    Chunks of ``chunk`` rows, each with the ``context_rows`` rows before it; no autograd.
    """
    need = context_rows(model)
    full = np.concatenate([context[-need:] if need else context[:0], x]).astype(np.float32)
    offset = len(full) - len(x)
    out = np.empty((len(x), 3), np.float64)
    with torch.inference_mode():
        for i in range(0, len(x), chunk):
            lo = max(offset + i - need, 0)
            hi = offset + min(i + chunk, len(x))
            seq = torch.from_numpy(np.ascontiguousarray(full[lo:hi]))[None]
            probs = torch.softmax(model(seq)[0], dim=-1).numpy()
            out[i : i + chunk] = probs[offset + i - lo :]
    return out
