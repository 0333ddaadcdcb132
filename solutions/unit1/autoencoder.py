"""Unit 1 reference solutions: a one-hidden-layer autoencoder and its outlier scores."""
import torch
from torch import nn


class Autoencoder(nn.Module):
    """x -> decoder(relu(encoder(x))): d_in -> d_code -> d_in."""

    def __init__(self, d_in, d_code):
        super().__init__()
        self.encoder = nn.Linear(d_in, d_code)
        self.decoder = nn.Linear(d_code, d_in)

    def forward(self, x):                                      # x: (N, d_in)
        return self.decoder(torch.relu(self.encoder(x)))       # (N, d_in)


def reconstruction_scores(model, x):
    """Per-sample mean squared reconstruction error, shape (N,), without building a graph."""
    with torch.no_grad():
        x_hat = model(x)                                       # (N, D)
    return ((x_hat - x) ** 2).mean(dim=1)
