"""A small transformer encoder over a window of recent model inputs -> 3-class logits.

Imported only by the ``transformer``/``ensemble`` predictors and by
``flowsense train/evaluate`` (torch takes seconds to import). The input
standardisation (training mean and std) lives in the module's buffers, so
the exported TorchScript artifact is all the dataflow needs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class OrderFlowTransformer(nn.Module):
    """Standardise, embed, add a learned position, encode, classify the last position."""

    def __init__(
        self, n_inputs: int, window: int, d_model: int = 32, heads: int = 4, layers: int = 2
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_inputs))
        self.register_buffer("std", torch.ones(n_inputs))
        self.embed = nn.Linear(n_inputs, d_model)
        self.position = nn.Parameter(torch.zeros(1, window, d_model))
        layer = nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward=2 * d_model, dropout=0.1, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, 3)

    def set_scaler(self, x: np.ndarray) -> None:
        """Standardise inputs with the mean and std of training rows ``x`` (n, d)."""
        self.mean.copy_(torch.as_tensor(x.mean(axis=0)))
        self.std.copy_(torch.as_tensor(np.maximum(x.std(axis=0), 1e-6)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, window, inputs) -> (batch, 3) logits of down, flat, up."""
        h = self.embed((x - self.mean) / self.std) + self.position
        return self.head(self.encoder(h)[:, -1])


def export(model: OrderFlowTransformer, window: int, n_inputs: int) -> torch.jit.ScriptModule:
    """TorchScript by tracing in eval mode (the artifact the dataflow loads)."""
    model.eval()
    example = torch.zeros(2, window, n_inputs)
    with torch.no_grad():
        return torch.jit.trace(model, example, check_trace=False)


def predict_proba(model, x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Class probabilities (n, 3) of windows ``x`` (n, window, d), in chunks, no autograd."""
    out = np.empty((len(x), 3), np.float64)
    with torch.inference_mode():
        for i in range(0, len(x), chunk):
            xb = torch.from_numpy(np.ascontiguousarray(x[i : i + chunk], np.float32))
            out[i : i + chunk] = torch.softmax(model(xb), dim=1).numpy()
    return out
