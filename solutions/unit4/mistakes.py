"""Typical wrong implementations for Unit 4, each recognised by the checks with a hint."""
import torch
import torch.nn.functional as F

from .recurrent import lstm_forward, rnn_step, seq2seq_loss, teacher_forcing_inputs

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


# bidirectional_rnn ------------------------------------------------------------
def _directions(x, h0, params_fwd, params_bwd, reverse_input=True, bwd_params=None, bwd_start=1):
    T = x.shape[0]
    h_f, h_b = h0[0], h0[bwd_start]
    fwd, bwd = [], []
    for t in range(T):
        h_f = rnn_step(x[t], h_f, *params_fwd)
        fwd.append(h_f)
    order = reversed(range(T)) if reverse_input else range(T)
    for t in order:
        h_b = rnn_step(x[t], h_b, *(bwd_params or params_bwd))
        bwd.append(h_b)
    return fwd, bwd, h_f, h_b


def birnn_backward_not_realigned(x, h0, params_fwd, params_bwd):
    fwd, bwd, h_f, h_b = _directions(x, h0, params_fwd, params_bwd)
    return torch.cat([torch.stack(fwd), torch.stack(bwd)], dim=2), torch.stack([h_f, h_b])


def birnn_backward_not_reversed(x, h0, params_fwd, params_bwd):
    fwd, bwd, h_f, h_b = _directions(x, h0, params_fwd, params_bwd, reverse_input=False)
    return torch.cat([torch.stack(fwd), torch.stack(bwd)], dim=2), torch.stack([h_f, h_b])


def birnn_shared_params(x, h0, params_fwd, params_bwd):
    fwd, bwd, h_f, h_b = _directions(x, h0, params_fwd, params_bwd, bwd_params=params_fwd)
    return torch.cat([torch.stack(fwd), torch.stack(bwd[::-1])], dim=2), torch.stack([h_f, h_b])


def birnn_same_start(x, h0, params_fwd, params_bwd):
    fwd, bwd, h_f, h_b = _directions(x, h0, params_fwd, params_bwd, bwd_start=0)
    return torch.cat([torch.stack(fwd), torch.stack(bwd[::-1])], dim=2), torch.stack([h_f, h_b])


def birnn_last_output(x, h0, params_fwd, params_bwd):
    fwd, bwd, h_f, h_b = _directions(x, h0, params_fwd, params_bwd)
    outputs = torch.cat([torch.stack(fwd), torch.stack(bwd[::-1])], dim=2)
    return outputs, torch.stack([outputs[-1, :, :h_f.shape[1]], outputs[-1, :, h_f.shape[1]:]])


# many_to_one_classifier ----------------------------------------------------------
def classifier_mean_pool(X, h0, c0, W_ih, W_hh, b_ih, b_hh, W_out, b_out):
    outputs, _ = lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh)
    return outputs.mean(dim=0) @ W_out.T + b_out


def classifier_first_step(X, h0, c0, W_ih, W_hh, b_ih, b_hh, W_out, b_out):
    outputs, _ = lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh)
    return outputs[0] @ W_out.T + b_out


def classifier_cell_state(X, h0, c0, W_ih, W_hh, b_ih, b_hh, W_out, b_out):
    _, (_, c_T) = lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh)
    return c_T @ W_out.T + b_out


def classifier_softmax(X, h0, c0, W_ih, W_hh, b_ih, b_hh, W_out, b_out):
    _, (h_T, _) = lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh)
    return torch.softmax(h_T @ W_out.T + b_out, dim=1)


def classifier_no_bias(X, h0, c0, W_ih, W_hh, b_ih, b_hh, W_out, b_out):
    _, (h_T, _) = lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh)
    return h_T @ W_out.T


# teacher_forcing_inputs -------------------------------------------------------------
def teacher_unshifted(targets, bos):
    return targets.clone()


def teacher_bos_last(targets, bos):
    return torch.cat([targets[1:], torch.full_like(targets[:1], bos)])


def teacher_drops_first(targets, bos):
    return torch.cat([torch.full_like(targets[:1], bos), targets[1:]])


def teacher_too_long(targets, bos):
    return torch.cat([torch.full_like(targets[:1], bos), targets])


def teacher_batch_first(targets, bos):
    return torch.cat([torch.full_like(targets[:, :1], bos), targets[:, :-1]], dim=1)


# seq2seq_loss ------------------------------------------------------------------------
def seq2seq_decoder_from_zeros(encoder_cell, decoder_cell, embedding, readout, source, targets, bos,
                               teacher_forcing=True):
    zeros = torch.zeros(source.shape[1], encoder_cell.hidden_size, dtype=readout.weight.dtype, device=source.device)
    inputs = teacher_forcing_inputs(targets, bos) if teacher_forcing else None
    h, token, losses = zeros, torch.full_like(targets[0], bos), []
    for t in range(targets.shape[0]):
        h = decoder_cell(embedding(inputs[t] if teacher_forcing else token), h)
        scores = readout(h)
        losses.append(F.cross_entropy(scores, targets[t]))
        token = scores.argmax(dim=1)
    return torch.stack(losses).mean()


def seq2seq_reads_targets(encoder_cell, decoder_cell, embedding, readout, source, targets, bos,
                          teacher_forcing=True):
    h = torch.zeros(source.shape[1], encoder_cell.hidden_size, dtype=readout.weight.dtype, device=source.device)
    for s in range(source.shape[0]):
        h = encoder_cell(embedding(source[s]), h)
    losses = []
    for t in range(targets.shape[0]):   # reads the token it must predict
        h = decoder_cell(embedding(targets[t]), h)
        losses.append(F.cross_entropy(readout(h), targets[t]))
    return torch.stack(losses).mean()


def seq2seq_summed(encoder_cell, decoder_cell, embedding, readout, source, targets, bos, teacher_forcing=True):
    return seq2seq_loss(encoder_cell, decoder_cell, embedding, readout, source, targets, bos,
                        teacher_forcing) * targets.shape[0]


def seq2seq_always_teacher(encoder_cell, decoder_cell, embedding, readout, source, targets, bos,
                           teacher_forcing=True):
    return seq2seq_loss(encoder_cell, decoder_cell, embedding, readout, source, targets, bos, True)
