"""Unit 4 reference solutions: one step of an RNN, an LSTM and a GRU, and an LSTM over a sequence.

The LSTM and GRU use PyTorch's layouts (nn.LSTMCell, nn.GRUCell): the weights
of all gates are stacked along the first axis, so W_ih has shape (4H, D) for an
LSTM and (3H, D) for a GRU, and a batch of inputs is multiplied by W_ih.T.
Everything runs on the device and in the dtype of the inputs.
"""
import torch


def rnn_step(x, h, W_xh, W_hh, b):
    """h_next = tanh(x @ W_xh + h @ W_hh + b) for x (N, D), h (N, H), W_xh (D, H), W_hh (H, H), b (H,)."""
    return torch.tanh(x @ W_xh + h @ W_hh + b)              # (N, H)


def lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """One nn.LSTMCell step; returns (h_next, c_next), both (N, H).

    x (N, D), h and c (N, H), W_ih (4H, D), W_hh (4H, H), b_ih and b_hh (4H,).
    The 4H gate pre-activations are, in order: input i, forget f, cell g, output o.
    """
    gates = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh           # (N, 4H)
    i, f, g, o = gates.chunk(4, dim=1)                       # each (N, H)
    i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
    g = torch.tanh(g)
    c_next = f * c + i * g                                   # (N, H)
    h_next = o * torch.tanh(c_next)                          # (N, H)
    return h_next, c_next


def gru_step(x, h, W_ih, W_hh, b_ih, b_hh):
    """One nn.GRUCell step; returns h_next (N, H).

    x (N, D), h (N, H), W_ih (3H, D), W_hh (3H, H), b_ih and b_hh (3H,).
    The 3H rows are, in order: reset r, update z, new (candidate) n.
    """
    x_r, x_z, x_n = (x @ W_ih.T + b_ih).chunk(3, dim=1)     # each (N, H)
    h_r, h_z, h_n = (h @ W_hh.T + b_hh).chunk(3, dim=1)     # each (N, H)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)                            # r scales the hidden part, bias included
    return (1 - z) * n + z * h                               # (N, H)


def lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    """Run lstm_step over X (T, N, D) from (h0, c0), each (N, H).

    Returns (outputs, (h_T, c_T)): outputs (T, N, H) holds the hidden state after
    every step, as a one-layer nn.LSTM returns (without its leading layer axis on h_T, c_T).
    """
    h, c = h0, c0
    outputs = []
    for x in X:                                              # x (N, D)
        h, c = lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh)
        outputs.append(h)
    return torch.stack(outputs), (h, c)                      # (T, N, H), ((N, H), (N, H))
