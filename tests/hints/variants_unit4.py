"""Unit 4 as students write it: RNN, LSTM and GRU steps and an LSTM over a sequence."""
from real_code import Variant


def _wrong(exercise, title, source, hint):
    return Variant("unit4", exercise, title, source, hint)


def _right(exercise, title, source):
    return Variant("unit4", exercise, title, source)


# an LSTM step in the "slice the stacked weights per gate" style; the pieces students get wrong are slots
LSTM_SLICED = '''
def lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):
    H = h.shape[1]
    def gate(k):
        rows = slice(k * H, (k + 1) * H)
        return x @ W_ih[rows].T + h @ W_hh[rows].T + BIAS
    i = torch.sigmoid(gate(I))
    f = torch.sigmoid(gate(F))
    g = CANDIDATE
    o = torch.sigmoid(gate(O))
    c_next = f * FORGET + i * g
    h_next = o * torch.tanh(H_FROM)
    return h_next, c_next
'''


def _lstm(order="IFGO", bias="b_ih[rows] + b_hh[rows]", candidate="torch.tanh(gate(G))", forget="c",
          h_from="c_next"):
    source = LSTM_SLICED.replace("BIAS", bias).replace("CANDIDATE", candidate)
    source = source.replace("FORGET", forget).replace("H_FROM", h_from)
    for k, name in enumerate(order):
        source = source.replace(f"gate({name})", f"gate({k})")
    return source


GRU = '''
def gru_step(x, h, W_ih, W_hh, b_ih, b_hh):
    H = h.shape[-1]
    gi = torch.addmm(b_ih, x, W_ih.t())
    gh = torch.addmm(b_hh, h, W_hh.t())
    r = torch.sigmoid(gi[:, :H] + gh[:, :H])
    z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = NEW
    return BLEND
'''

WRONG = [
    _wrong("rnn_step", "no bias", '''
def rnn_step(x, h, W_xh, W_hh, b):
    return torch.tanh(torch.mm(x, W_xh) + torch.mm(h, W_hh))
''', "add the bias b"),
    _wrong("rnn_step", "sigmoid", '''
def rnn_step(x, h, W_xh, W_hh, b):
    a = x @ W_xh + h @ W_hh + b
    return 1 / (1 + torch.exp(-a))
''', "tanh, not sigmoid"),
    _wrong("rnn_step", "W_hh transposed", '''
def rnn_step(x, h, W_xh, W_hh, b):
    return torch.tanh(x @ W_xh + (W_hh @ h.T).T + b)
''', "a transposed W_hh"),
    _wrong("lstm_step", "gates i, f, o, g", _lstm(order="IFOG"), "(you used i, f, o, g)"),
    _wrong("lstm_step", "forget gate on h", _lstm(forget="h"), "not h: c_next = f * c + i * g"),
    _wrong("lstm_step", "h from the old cell", _lstm(h_from="c"), "o * tanh(c_next)"),
    _wrong("lstm_step", "one bias", _lstm(bias="b_ih[rows]"), "add both biases"),
    _wrong("lstm_step", "tanh twice on the candidate", _lstm(candidate="torch.tanh(torch.tanh(gate(G)))"),
           "you applied it twice"),
    _wrong("gru_step", "update gate blends the wrong way", GRU.replace(
        "NEW", "torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])").replace("BLEND", "z * n + (1 - z) * h"),
        "the update gate keeps the old state"),
    _wrong("gru_step", "reset before the product (the 2014 paper)", GRU.replace(
        "NEW", "torch.tanh(gi[:, 2 * H:] + (r * h) @ W_hh[2 * H:].t() + b_hh[2 * H:])").replace(
        "BLEND", "(1 - z) * n + z * h"), "applies the reset gate after the product"),
    _wrong("lstm_forward", "every step from (h0, c0)", '''
def lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    outs = []
    for t in range(X.shape[0]):
        h, c = lstm_step(X[t], h0, c0, W_ih, W_hh, b_ih, b_hh)
        outs.append(h)
    return torch.stack(outs), (h, c)
''', "carry (h, c) from one step to the next"),
    _wrong("lstm_forward", "batch first", '''
def lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    h, c = h0, c0
    hs = []
    for x_t in X.unbind(0):
        h, c = lstm_step(x_t, h, c, W_ih, W_hh, b_ih, b_hh)
        hs.append(h)
    return torch.stack(hs, dim=1), (h, c)
''', "outputs is (T, N, H)"),
    _wrong("lstm_forward", "outputs the cell state", '''
def lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    T = X.shape[0]
    outputs = X.new_zeros(T, *h0.shape)
    h, c = h0, c0
    for t in range(T):
        h, c = lstm_step(X[t], h, c, W_ih, W_hh, b_ih, b_hh)
        outputs[t] = c
    return outputs, (h, c)
''', "not the cell state c"),
    _wrong("rnn_step", "ReLU instead of tanh", '''
def rnn_step(x, h, W_xh, W_hh, b):
    return torch.relu(x @ W_xh + h @ W_hh + b)
''', "tanh, not ReLU"),
    _wrong("lstm_step", "gates i, f, o, g and one bias", _lstm(order="IFOG", bias="b_ih[rows]"), None),
]

# lstm_forward needs a correct lstm_step in the same notebook
for _i, _v in enumerate(WRONG):
    if _v.exercise == "lstm_forward":
        WRONG[_i] = Variant(_v.unit, _v.exercise, _v.title, _lstm() + _v.source, _v.hint)

CORRECT = [
    _right("rnn_step", "addmm", '''
def rnn_step(x, h, W_xh, W_hh, b):
    return torch.tanh(torch.addmm(b, x, W_xh) + h.matmul(W_hh))
'''),
    _right("lstm_step", "one slice per gate", _lstm()),
    _right("gru_step", "addmm and slices", GRU.replace("NEW", "torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])").replace(
        "BLEND", "(1 - z) * n + z * h")),
    _right("lstm_forward", "preallocated outputs", _lstm() + '''
def lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    T = X.shape[0]
    outputs = []
    state = (h0, c0)
    for t in range(T):
        state = lstm_step(X[t], *state, W_ih, W_hh, b_ih, b_hh)
        outputs.append(state[0])
    return torch.stack(outputs, 0), state
'''),
]

# The exercises added with issue 12 ---------------------------------------------------------------
RNN_STEP = '''
def rnn_step(x, h, W_xh, W_hh, b):
    return torch.tanh(x @ W_xh + h @ W_hh + b)
'''
WRONG += [
    _wrong("bidirectional_rnn", "backward list not reversed", RNN_STEP + '''
def bidirectional_rnn(x, h0, params_fwd, params_bwd):
    outs_f, outs_b = [], []
    h = h0[0]
    for x_t in x:
        h = rnn_step(x_t, h, *params_fwd)
        outs_f.append(h)
    g = h0[1]
    for x_t in x.flip(0):
        g = rnn_step(x_t, g, *params_bwd)
        outs_b.append(g)
    return torch.cat((torch.stack(outs_f), torch.stack(outs_b)), 2), torch.stack((h, g))
''', "in the order they were computed"),
    _wrong("bidirectional_rnn", "both start from h0[0]", RNN_STEP + '''
def bidirectional_rnn(x, h0, params_fwd, params_bwd):
    T = len(x)
    f = [None] * T
    b = [None] * T
    hf = hb = h0[0]
    for t in range(T):
        hf = rnn_step(x[t], hf, *params_fwd)
        f[t] = hf
        hb = rnn_step(x[T - 1 - t], hb, *params_bwd)
        b[T - 1 - t] = hb
    return torch.cat([torch.stack(f), torch.stack(b)], -1), torch.stack([hf, hb])
''', "starts from h0[1]"),
    _wrong("many_to_one_classifier", "softmax at the end", _lstm() + '''
def lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    h, c, hs = h0, c0, []
    for x in X:
        h, c = lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh)
        hs.append(h)
    return torch.stack(hs), (h, c)

def many_to_one_classifier(X, h0, c0, W_ih, W_hh, b_ih, b_hh, W_out, b_out):
    _, (h, _) = lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh)
    return (h @ W_out.T + b_out).softmax(dim=-1)
''', "return the scores"),
    _wrong("teacher_forcing_inputs", "bos replaces the first target", '''
def teacher_forcing_inputs(targets, bos):
    out = targets.clone()
    out[0] = bos
    return out
''', "keep targets[0] and drop the last target"),
    _wrong("seq2seq_loss", "decoder from zeros", '''
import torch.nn.functional as F

def seq2seq_loss(encoder_cell, decoder_cell, embedding, readout, source, targets, bos, teacher_forcing=True):
    N = source.shape[1]
    h = torch.zeros(N, encoder_cell.hidden_size, dtype=readout.weight.dtype)
    for tok in source:
        h = encoder_cell(embedding(tok), h)
    s = torch.zeros_like(h)
    prev = torch.full((N,), bos, dtype=torch.long)
    losses = []
    for t in range(targets.shape[0]):
        s = decoder_cell(embedding(prev), s)
        logits = readout(s)
        losses.append(F.cross_entropy(logits, targets[t]))
        prev = targets[t] if teacher_forcing else logits.argmax(-1)
    return sum(losses) / len(losses)
''', "not from zeros"),
]

CORRECT += [
    _right("bidirectional_rnn", "flip, run, flip back", RNN_STEP + '''
def run(x, h, params):
    states = []
    for x_t in x:
        h = rnn_step(x_t, h, *params)
        states.append(h)
    return torch.stack(states), h

def bidirectional_rnn(x, h0, params_fwd, params_bwd):
    fwd, h_f = run(x, h0[0], params_fwd)
    bwd, h_b = run(x.flip(0), h0[1], params_bwd)
    return torch.cat([fwd, bwd.flip(0)], dim=2), torch.stack([h_f, h_b])
'''),
    _right("teacher_forcing_inputs", "roll", '''
def teacher_forcing_inputs(targets, bos):
    shifted = torch.roll(targets, shifts=1, dims=0)
    shifted[0] = bos
    return shifted
'''),
    _right("seq2seq_loss", "one cross-entropy over all steps", '''
import torch.nn.functional as F

def seq2seq_loss(encoder_cell, decoder_cell, embedding, readout, source, targets, bos, teacher_forcing=True):
    N = source.shape[1]
    h = torch.zeros(N, encoder_cell.hidden_size, dtype=readout.weight.dtype, device=source.device)
    for tok in source:
        h = encoder_cell(embedding(tok), h)
    prev = torch.full((N,), bos, dtype=torch.long, device=source.device)
    all_scores = []
    for t in range(targets.shape[0]):
        h = decoder_cell(embedding(prev), h)
        all_scores.append(readout(h))
        prev = targets[t] if teacher_forcing else all_scores[-1].argmax(-1)
    scores = torch.stack(all_scores)
    return F.cross_entropy(scores.reshape(-1, scores.shape[-1]), targets.reshape(-1))
'''),
]
