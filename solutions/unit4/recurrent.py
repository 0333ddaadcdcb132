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


def bidirectional_rnn(x, h0, params_fwd, params_bwd):
    """A one-layer bidirectional RNN built from rnn_step, as nn.RNN(bidirectional=True) computes it.

    x: (T, N, D); h0: (2, N, H), the starting states of the forward and the backward direction;
    params_fwd, params_bwd: (W_xh, W_hh, b) of each direction, as in rnn_step.
    The forward direction reads x[0], ..., x[T-1]; the backward one x[T-1], ..., x[0].
    Returns (outputs, h_n): outputs (T, N, 2H) holds at step t the forward state after reading
    x[t] next to the backward state after reading x[t]; h_n (2, N, H) holds each direction's last state.
    """
    T = x.shape[0]
    h_fwd, h_bwd = h0[0], h0[1]
    forward, backward = [], [None] * T
    for t in range(T):
        h_fwd = rnn_step(x[t], h_fwd, *params_fwd)
        forward.append(h_fwd)
    for t in reversed(range(T)):
        h_bwd = rnn_step(x[t], h_bwd, *params_bwd)
        backward[t] = h_bwd
    outputs = torch.cat([torch.stack(forward), torch.stack(backward)], dim=2)   # (T, N, 2H)
    return outputs, torch.stack([h_fwd, h_bwd])                                  # (2, N, H)


def many_to_one_classifier(X, h0, c0, W_ih, W_hh, b_ih, b_hh, W_out, b_out):
    """Class scores (N, C) from the LSTM's last hidden state: lstm_forward, then h_T @ W_out.T + b_out.

    W_out: (C, H) and b_out: (C,), as in nn.Linear(H, C).
    """
    _, (h_T, _) = lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh)
    return h_T @ W_out.T + b_out                                                   # (N, C)


def teacher_forcing_inputs(targets, bos):
    """The decoder's inputs under teacher forcing: bos, then the targets shifted one step later.

    targets: (T, N) int64 token ids; returns (T, N): row 0 is bos, row t is targets[t - 1].
    """
    start = torch.full_like(targets[:1], bos)                                      # (1, N)
    return torch.cat([start, targets[:-1]])                                        # (T, N)


def seq2seq_loss(encoder_cell, decoder_cell, embedding, readout, source, targets, bos, teacher_forcing=True):
    """Mean cross-entropy of a tiny GRU encoder-decoder over every target token.

    encoder_cell, decoder_cell: nn.GRUCell(E, H); embedding: nn.Embedding(V, E) for both sides;
    readout: nn.Linear(H, V); source (S, N) and targets (T, N): int64 token ids; bos: the start token.
    The encoder starts from zeros and reads the source; its last state starts the decoder. With
    teacher forcing the decoder reads teacher_forcing_inputs(targets, bos); without it, it reads
    bos and then its own previous prediction (the argmax of the scores). Returns a 0-d tensor.
    """
    S, N = source.shape
    h = torch.zeros(N, encoder_cell.hidden_size, device=source.device, dtype=readout.weight.dtype)
    for s in range(S):
        h = encoder_cell(embedding(source[s]), h)                                  # (N, H)
    inputs = teacher_forcing_inputs(targets, bos)
    token = inputs[0]
    losses = []
    for t in range(targets.shape[0]):
        h = decoder_cell(embedding(token), h)
        scores = readout(h)                                                        # (N, V)
        losses.append(torch.nn.functional.cross_entropy(scores, targets[t]))
        if t + 1 < targets.shape[0]:
            token = inputs[t + 1] if teacher_forcing else scores.argmax(dim=1)
    return torch.stack(losses).mean()
