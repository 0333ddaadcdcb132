"""Typical wrong implementations for Unit 4, each recognised by the checks with a hint."""
import torch

sig, tanh = torch.sigmoid, torch.tanh


# rnn_step -----------------------------------------------------------------
def rnn_no_bias(x, h, W_xh, W_hh, b):
    return tanh(x @ W_xh + h @ W_hh)


def rnn_sigmoid(x, h, W_xh, W_hh, b):
    return sig(x @ W_xh + h @ W_hh + b)


def rnn_relu(x, h, W_xh, W_hh, b):
    return torch.relu(x @ W_xh + h @ W_hh + b)


def rnn_no_activation(x, h, W_xh, W_hh, b):
    return x @ W_xh + h @ W_hh + b


def rnn_transposed(x, h, W_xh, W_hh, b):
    return tanh(x @ W_xh.T + h @ W_hh.T + b)


def rnn_transposed_hh(x, h, W_xh, W_hh, b):
    return tanh(x @ W_xh + h @ W_hh.T + b)


def rnn_no_recurrence(x, h, W_xh, W_hh, b):
    return tanh(x @ W_xh + b)


# lstm_step ----------------------------------------------------------------
def _lstm(x, h, c, W_ih, W_hh, b_ih, b_hh, order="ifgo", gate=sig, cand=tanh, out=tanh,
          forget_on="c", transpose=True, biases=2, use_old_c=False):
    if transpose:
        pre = x @ W_ih.T + h @ W_hh.T
    else:  # reshaped instead of transposed: same numbers, wrong layout
        pre = x @ W_ih.reshape(W_ih.shape[1], -1) + h @ W_hh.reshape(W_hh.shape[1], -1)
    pre = pre + b_ih + (b_hh if biases == 2 else 0)
    parts = dict(zip(order, pre.chunk(4, dim=1)))
    i, f, g, o = gate(parts["i"]), gate(parts["f"]), cand(parts["g"]), gate(parts["o"])
    c_next = f * (c if forget_on == "c" else h) + i * g
    h_next = o * out(c if use_old_c else c_next)
    return h_next, c_next


def lstm_order_ifog(*args):
    return _lstm(*args, order="ifog")


def lstm_order_figo(*args):
    return _lstm(*args, order="figo")


def lstm_order_gifo(*args):
    return _lstm(*args, order="gifo")


def lstm_swapped_activations(*args):
    return _lstm(*args, gate=tanh, cand=sig, out=sig)


def lstm_sigmoid_candidate(*args):
    return _lstm(*args, cand=sig)


def lstm_candidate_tanh_twice(*args):
    return _lstm(*args, cand=lambda g: tanh(tanh(g)))


def lstm_no_cell_tanh(*args):
    return _lstm(*args, out=lambda c: c)


def lstm_forget_on_h(*args):
    return _lstm(*args, forget_on="h")


def lstm_reshaped_weights(*args):
    return _lstm(*args, transpose=False)


def lstm_one_bias(*args):
    return _lstm(*args, biases=1)


def lstm_h_from_old_c(*args):
    return _lstm(*args, use_old_c=True)


# gru_step -----------------------------------------------------------------
def _gru(x, h, W_ih, W_hh, b_ih, b_hh, order="rzn", blend="pytorch", reset="after", gate=sig, cand=tanh,
         transpose=True):
    if transpose:
        gx, gh = x @ W_ih.T + b_ih, h @ W_hh.T + b_hh
    else:
        gx = x @ W_ih.reshape(W_ih.shape[1], -1) + b_ih
        gh = h @ W_hh.reshape(W_hh.shape[1], -1) + b_hh
    px = dict(zip(order, gx.chunk(3, dim=1)))
    ph = dict(zip(order, gh.chunk(3, dim=1)))
    r = gate(px["r"] + ph["r"])
    z = gate(px["z"] + ph["z"])
    if reset == "after":
        n = cand(px["n"] + r * ph["n"])
    elif reset == "before":  # r * h goes through W_hn, as in the 2014 paper
        H = h.shape[1]
        n = cand(px["n"] + (r * h) @ W_hh[2 * H:].T + b_hh[2 * H:])
    else:  # reset scales the input part too
        n = cand(r * (px["n"] + ph["n"]))
    if blend == "pytorch":
        return (1 - z) * n + z * h
    return z * n + (1 - z) * h


def gru_blend_swapped(*args):
    return _gru(*args, blend="swapped")


def gru_reset_before_matmul(*args):
    return _gru(*args, reset="before")


def gru_reset_on_everything(*args):
    return _gru(*args, reset="all")


def gru_order_zrn(*args):
    return _gru(*args, order="zrn")


def gru_swapped_activations(*args):
    return _gru(*args, gate=tanh, cand=sig)


def gru_reshaped_weights(*args):
    return _gru(*args, transpose=False)


# lstm_forward -------------------------------------------------------------
def _step(x, h, c, W_ih, W_hh, b_ih, b_hh):
    return _lstm(x, h, c, W_ih, W_hh, b_ih, b_hh)


def lstm_forward_cell_outputs(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    h, c, outs = h0, c0, []
    for x in X:
        h, c = _step(x, h, c, W_ih, W_hh, b_ih, b_hh)
        outs.append(c)
    return torch.stack(outs), (h, c)


def lstm_forward_no_carry(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    outs = [_step(x, h0, c0, W_ih, W_hh, b_ih, b_hh) for x in X]
    return torch.stack([h for h, _ in outs]), outs[-1]


def lstm_forward_cell_reset(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    h, c, outs = h0, c0, []
    for x in X:
        h, c = _step(x, h, c0, W_ih, W_hh, b_ih, b_hh)
        outs.append(h)
    return torch.stack(outs), (h, c)


def lstm_forward_shifted(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    h, c, outs = h0, c0, []
    for x in X:
        outs.append(h)
        h, c = _step(x, h, c, W_ih, W_hh, b_ih, b_hh)
    return torch.stack(outs), (h, c)


def lstm_forward_batch_first(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    h, c, outs = h0, c0, []
    for x in X:
        h, c = _step(x, h, c, W_ih, W_hh, b_ih, b_hh)
        outs.append(h)
    return torch.stack(outs, dim=1), (h, c)


def lstm_forward_wrong_step(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    h, c, outs = h0, c0, []
    for x in X:
        h, c = lstm_order_ifog(x, h, c, W_ih, W_hh, b_ih, b_hh)
        outs.append(h)
    return torch.stack(outs), (h, c)
