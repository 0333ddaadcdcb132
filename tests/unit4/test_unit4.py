"""Unit 4: the references pass, the starters score 0, typical mistakes get their hints, PyTorch agrees."""
from __future__ import annotations

import importlib.util

import pytest
import torch

from helpers import ROOT, assert_fails_with, check_path


EXERCISES = ["rnn_step", "lstm_step", "gru_step", "lstm_forward", "bidirectional_rnn", "many_to_one_classifier",
             "teacher_forcing_inputs", "seq2seq_loss"]


def _reference():
    spec = importlib.util.spec_from_file_location("unit4_reference", ROOT / "solutions/unit4/recurrent.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REF = _reference()


def test_references_pass_through_a_worker():
    result = check_path("unit4", ROOT / "solutions/unit4/recurrent.py")
    failed = {n: [c.message for c in e.checks if not c.passed] for n, e in result.exercises.items() if not e.passed}
    assert not failed
    assert list(result.exercises) == EXERCISES
    assert result.score == result.max_score


def test_starters_score_zero():
    result = check_path("unit4", ROOT / "exercises/unit4")
    assert list(result.exercises) == EXERCISES
    assert all(e.score == 0 and e.checks for e in result.exercises.values())
    assert not result.notes  # every cell of the starter runs



# typical wrong implementations, written as a student would ----------------
STEP_PRELUDE = "import torch\nsig, tanh = torch.sigmoid, torch.tanh\n"

RNN = [
    ("no bias", "def rnn_step(x, h, W_xh, W_hh, b):\n    return torch.tanh(x @ W_xh + h @ W_hh)\n",
     "add the bias b"),
    ("sigmoid", "def rnn_step(x, h, W_xh, W_hh, b):\n    return torch.sigmoid(x @ W_xh + h @ W_hh + b)\n",
     "uses tanh, not sigmoid"),
    ("linear", "def rnn_step(x, h, W_xh, W_hh, b):\n    return x @ W_xh + h @ W_hh + b\n", "apply tanh"),
    ("transposed", "def rnn_step(x, h, W_xh, W_hh, b):\n    return torch.tanh(x @ W_xh.T + h @ W_hh.T + b)\n",
     "need no transpose"),
    ("only W_hh transposed", "def rnn_step(x, h, W_xh, W_hh, b):\n    return torch.tanh(x @ W_xh + h @ W_hh.T + b)\n",
     "a transposed W_hh has the right shape"),
    ("forgets h", "def rnn_step(x, h, W_xh, W_hh, b):\n    return torch.tanh(x @ W_xh + b)\n",
     "h @ W_hh; it is missing"),
    ("relu", "def rnn_step(x, h, W_xh, W_hh, b):\n    return torch.relu(x @ W_xh + h @ W_hh + b)\n",
     "uses tanh, not ReLU"),
    ("uses nn.RNNCell", """
def rnn_step(x, h, W_xh, W_hh, b):
    cell = torch.nn.RNNCell(W_xh.shape[0], W_xh.shape[1]).to(x.dtype)
    with torch.no_grad():
        cell.weight_ih.copy_(W_xh.T); cell.weight_hh.copy_(W_hh.T); cell.bias_ih.copy_(b); cell.bias_hh.zero_()
    return cell(x, h)
""", "does not allow"),
]


def _lstm_src(gates="i, f, g, o", act_i="sig", act_g="tanh", c_next="f * c + i * g", h_next="o * tanh(c_next)",
              pre="x @ W_ih.T + b_ih + h @ W_hh.T + b_hh"):
    return STEP_PRELUDE + f"""
def lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):
    pre = {pre}
    {gates} = pre.chunk(4, dim=1)
    i, f, o = {act_i}(i), {act_i}(f), {act_i}(o)
    g = {act_g}(g)
    c_next = {c_next}
    h_next = {h_next}
    return h_next, c_next
"""


LSTM = [
    ("i, f, o, g order", _lstm_src(gates="i, f, o, g"), "you used i, f, o, g"),
    ("f, i, g, o order", _lstm_src(gates="f, i, g, o"), "you swapped input and forget"),
    ("g, i, f, o order", _lstm_src(gates="g, i, f, o"), "in the order input, forget, cell"),
    ("activations swapped", _lstm_src(act_i="tanh", act_g="sig", h_next="o * sig(c_next)"),
     "sigmoid and tanh are swapped"),
    ("sigmoid candidate", _lstm_src(act_g="sig"), "candidate g uses tanh"),
    ("no tanh on the cell", _lstm_src(h_next="o * c_next"), "the tanh on the cell is missing"),
    ("forget gate on h", _lstm_src(c_next="f * h + i * g"), "scales the previous cell state c"),
    ("reshaped weights", _lstm_src(pre="x @ W_ih.reshape(x.shape[1], -1) + b_ih + h @ W_hh.reshape(h.shape[1], -1) + b_hh"),
     "reshaping W_ih"),
    ("weights not transposed", _lstm_src(pre="x @ W_ih + b_ih + h @ W_hh + b_hh"), "multiply x @ W_ih.T"),
    ("one bias", _lstm_src(pre="x @ W_ih.T + h @ W_hh.T + b_ih"), "both biases"),
    ("old cell in h", _lstm_src(h_next="o * tanh(c)"), "uses the new cell state"),
    ("tanh twice on the candidate", _lstm_src(act_g="(lambda t: tanh(tanh(t)))"), "you applied it twice"),
]


def _gru_src(order="r, z, n", n_expr="tanh(x_n + r * h_n)", blend="(1 - z) * n + z * h", gate="sig"):
    return STEP_PRELUDE + f"""
def gru_step(x, h, W_ih, W_hh, b_ih, b_hh):
    H = h.shape[1]
    {order.replace('r', 'x_r').replace('z', 'x_z').replace('n', 'x_n')} = (x @ W_ih.T + b_ih).chunk(3, dim=1)
    {order.replace('r', 'h_r').replace('z', 'h_z').replace('n', 'h_n')} = (h @ W_hh.T + b_hh).chunk(3, dim=1)
    r = {gate}(x_r + h_r)
    z = {gate}(x_z + h_z)
    n = {n_expr}
    return {blend}
"""


GRU = [
    ("update gate swapped", _gru_src(blend="z * n + (1 - z) * h"), "the update gate keeps the old state"),
    ("reset before the product", _gru_src(n_expr="tanh(x_n + (r * h) @ W_hh[2 * H:].T + b_hh[2 * H:])"),
     "applies the reset gate after the product"),
    ("reset on the input part", _gru_src(n_expr="tanh(r * (x_n + h_n))"), "scales only the hidden part"),
    ("z, r, n order", _gru_src(order="z, r, n"), "in the order reset, update, new"),
    ("activations swapped", _gru_src(gate="tanh", n_expr="sig(x_n + r * h_n)"), "sigmoid and tanh are swapped"),
    ("weights not transposed", _gru_src().replace("W_ih.T", "W_ih").replace("W_hh.T", "W_hh"),
     "multiply x @ W_ih.T"),
]

STEP_OK = STEP_PRELUDE + """
def lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):
    i, f, g, o = (x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=1)
    c = sig(f) * c + sig(i) * tanh(g)
    return sig(o) * tanh(c), c
"""


def _forward_src(body):
    return STEP_OK + "\ndef lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh):\n" + body


FORWARD = [
    ("cell states as outputs", _forward_src("""
    h, c, outs = h0, c0, []
    for x in X:
        h, c = lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh)
        outs.append(c)
    return torch.stack(outs), (h, c)
"""), "not the cell state c"),
    ("state not carried", _forward_src("""
    outs = []
    for x in X:
        h, c = lstm_step(x, h0, c0, W_ih, W_hh, b_ih, b_hh)
        outs.append(h)
    return torch.stack(outs), (h, c)
"""), "carry (h, c) from one step"),
    ("cell not carried", _forward_src("""
    h, c, outs = h0, c0, []
    for x in X:
        h, c = lstm_step(x, h, c0, W_ih, W_hh, b_ih, b_hh)
        outs.append(h)
    return torch.stack(outs), (h, c)
"""), "carry the cell state c"),
    ("outputs shifted by one", _forward_src("""
    h, c, outs = h0, c0, []
    for t in range(X.shape[0]):
        outs.append(h)
        h, c = lstm_step(X[t], h, c, W_ih, W_hh, b_ih, b_hh)
    return torch.stack(outs), (h, c)
"""), "append h after the step"),
    ("batch first", _forward_src("""
    h, c, outs = h0, c0, []
    for x in X:
        h, c = lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh)
        outs.append(h)
    return torch.stack(outs, 1), (h, c)
"""), "(T, N, H), not (N, T, H)"),
    ("wrong gate order inside", _forward_src("""
    h, c, outs = h0, c0, []
    for x in X:
        i, f, o, g = (x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=1)
        c = sig(f) * c + sig(i) * tanh(g)
        h = sig(o) * tanh(c)
        outs.append(h)
    return torch.stack(outs), (h, c)
"""), "fix lstm_step first"),
    ("uses nn.LSTM", STEP_PRELUDE + """
def lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    lstm = torch.nn.LSTM(X.shape[2], h0.shape[1]).to(X.dtype)
    with torch.no_grad():
        for p, v in zip(lstm.parameters(), (W_ih, W_hh, b_ih, b_hh)):
            p.copy_(v)
    out, (h, c) = lstm(X, (h0[None], c0[None]))
    return out, (h[0], c[0])
""", "does not allow"),
]

RNN_OK = STEP_PRELUDE + """
def rnn_step(x, h, W_xh, W_hh, b):
    return tanh(x @ W_xh + h @ W_hh + b)
"""


def _birnn_src(body):
    return RNN_OK + "\ndef bidirectional_rnn(x, h0, params_fwd, params_bwd):\n    T = x.shape[0]\n" + body


BIRNN = [
    ("backward states in computing order", _birnn_src("""
    hf, hb, fw, bw = h0[0], h0[1], [], []
    for t in range(T):
        hf = rnn_step(x[t], hf, *params_fwd)
        fw.append(hf)
    for t in range(T - 1, -1, -1):
        hb = rnn_step(x[t], hb, *params_bwd)
        bw.append(hb)
    return torch.cat([torch.stack(fw), torch.stack(bw)], dim=-1), torch.stack([hf, hb])
"""), "in the order they were computed"),
    ("backward reads forwards", _birnn_src("""
    hf, hb, fw, bw = h0[0], h0[1], [], []
    for t in range(T):
        hf = rnn_step(x[t], hf, *params_fwd)
        hb = rnn_step(x[t], hb, *params_bwd)
        fw.append(hf)
        bw.append(hb)
    return torch.cat([torch.stack(fw), torch.stack(bw)], dim=-1), torch.stack([hf, hb])
"""), "from x[T-1] down to x[0]"),
    ("one set of weights", _birnn_src("""
    hf, hb, fw, bw = h0[0], h0[1], [], [None] * T
    for t in range(T):
        hf = rnn_step(x[t], hf, *params_fwd)
        fw.append(hf)
    for t in reversed(range(T)):
        hb = rnn_step(x[t], hb, *params_fwd)
        bw[t] = hb
    return torch.cat([torch.stack(fw), torch.stack(bw)], dim=-1), torch.stack([hf, hb])
"""), "uses params_bwd"),
    ("h_n from the last row", _birnn_src("""
    hf, hb, fw, bw = h0[0], h0[1], [], [None] * T
    for t in range(T):
        hf = rnn_step(x[t], hf, *params_fwd)
        fw.append(hf)
    for t in reversed(range(T)):
        hb = rnn_step(x[t], hb, *params_bwd)
        bw[t] = hb
    out = torch.cat([torch.stack(fw), torch.stack(bw)], dim=-1)
    H = hf.shape[1]
    return out, torch.stack([out[-1, :, :H], out[-1, :, H:]])
"""), "not outputs[-1]"),
]


def _classifier_src(body):
    return (STEP_OK + """
def lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    h, c, outs = h0, c0, []
    for x in X:
        h, c = lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh)
        outs.append(h)
    return torch.stack(outs), (h, c)

def many_to_one_classifier(X, h0, c0, W_ih, W_hh, b_ih, b_hh, W_out, b_out):
    outputs, (h_T, c_T) = lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh)
""" + body)


CLASSIFIER = [
    ("mean pooling", _classifier_src("    return outputs.mean(0) @ W_out.T + b_out\n"), "not the mean"),
    ("cell state", _classifier_src("    return c_T @ W_out.T + b_out\n"), "not the cell state c_T"),
    ("probabilities", _classifier_src("    return torch.softmax(h_T @ W_out.T + b_out, -1)\n"), "return the scores"),
    ("first step", _classifier_src("    return outputs[0] @ W_out.T + b_out\n"), "not the first step's"),
]

TEACHER_HEAD = "def teacher_forcing_inputs(targets, bos):\n"
TEACHER = [
    ("no shift", TEACHER_HEAD + "    return targets.clone()\n", "never the token it has to predict"),
    ("bos at the end", TEACHER_HEAD + "    return torch.cat([targets[1:], torch.full_like(targets[:1], bos)])\n",
     "bos goes first"),
    ("one step too many", TEACHER_HEAD + "    return torch.cat([torch.full_like(targets[:1], bos), targets])\n",
     "drop the last target"),
    ("shifted along the batch", TEACHER_HEAD + """    out = targets.roll(1, dims=1)
    out[:, 0] = bos
    return out
""", "shift along dim 0"),
]

SEQ2SEQ_HEAD = """
import torch.nn.functional as F

def seq2seq_loss(encoder_cell, decoder_cell, embedding, readout, source, targets, bos, teacher_forcing=True):
    h = torch.zeros(source.shape[1], encoder_cell.hidden_size, dtype=readout.weight.dtype)
    for s in range(source.shape[0]):
        h = encoder_cell(embedding(source[s]), h)
    token, total = torch.full_like(targets[0], bos), 0
"""
SEQ2SEQ = [
    ("reads the answer", SEQ2SEQ_HEAD + """    for t in range(len(targets)):
        h = decoder_cell(embedding(targets[t]), h)
        total = total + F.cross_entropy(readout(h), targets[t])
    return total / len(targets)
""", "must not read the token it predicts"),
    ("summed over steps", SEQ2SEQ_HEAD + """    for t in range(len(targets)):
        h = decoder_cell(embedding(token), h)
        scores = readout(h)
        total = total + F.cross_entropy(scores, targets[t])
        token = targets[t] if teacher_forcing else scores.argmax(1)
    return total
""", "do not sum over the steps"),
    ("always teacher forced", SEQ2SEQ_HEAD + """    for t in range(len(targets)):
        h = decoder_cell(embedding(token), h)
        total = total + F.cross_entropy(readout(h), targets[t])
        token = targets[t]
    return total / len(targets)
""", "feed back the decoder's own prediction"),
    ("calls backward itself", SEQ2SEQ_HEAD + """    for t in range(len(targets)):
        h = decoder_cell(embedding(token), h)
        scores = readout(h)
        total = total + F.cross_entropy(scores, targets[t])
        token = targets[t] if teacher_forcing else scores.argmax(1)
    loss = total / len(targets)
    loss.backward()
    return loss
""", "leave loss.backward() to the caller"),
]

CATALOGUE = ([("rnn_step", label, STEP_PRELUDE + src, hint) for label, src, hint in RNN] + [("lstm_step", *row) for row in LSTM]
             + [("gru_step", *row) for row in GRU] + [("lstm_forward", *row) for row in FORWARD]
             + [("bidirectional_rnn", *row) for row in BIRNN] + [("many_to_one_classifier", *row) for row in CLASSIFIER]
             + [("teacher_forcing_inputs", label, "import torch\n" + src, hint) for label, src, hint in TEACHER]
             + [("seq2seq_loss", label, "import torch\n" + src, hint) for label, src, hint in SEQ2SEQ])


def test_catalogue_covers_every_exercise():
    assert {row[0] for row in CATALOGUE} == set(EXERCISES)


@pytest.mark.parametrize("exercise, label, source, hint", CATALOGUE,
                         ids=[f"{e}: {label}" for e, label, _, _ in CATALOGUE])
def test_typical_mistake_gets_its_hint(exercise, label, source, hint):
    assert_fails_with("unit4", exercise, source, None, hint)


# the references against PyTorch's layers, directly -----------------------
def _lstm_weights(D, H, G, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shapes = ((G * H, D), (G * H, H), (G * H,), (G * H,))
    return [torch.randn(*s, generator=gen, dtype=torch.float64) for s in shapes]


def test_lstm_step_matches_lstm_cell():
    W_ih, W_hh, b_ih, b_hh = _lstm_weights(3, 5, 4)
    cell = torch.nn.LSTMCell(3, 5).double()
    with torch.no_grad():
        for p, v in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), (W_ih, W_hh, b_ih, b_hh)):
            p.copy_(v)
    x, h, c = torch.randn(4, 3).double(), torch.randn(4, 5).double(), torch.randn(4, 5).double()
    for got, want in zip(REF.lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh), cell(x, (h, c))):
        torch.testing.assert_close(got, want)


def test_gru_step_matches_gru_cell():
    W_ih, W_hh, b_ih, b_hh = _lstm_weights(3, 5, 3, seed=1)
    cell = torch.nn.GRUCell(3, 5).double()
    with torch.no_grad():
        for p, v in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), (W_ih, W_hh, b_ih, b_hh)):
            p.copy_(v)
    x, h = torch.randn(4, 3).double(), torch.randn(4, 5).double()
    torch.testing.assert_close(REF.gru_step(x, h, W_ih, W_hh, b_ih, b_hh), cell(x, h))


def test_rnn_step_matches_rnn_cell():
    cell = torch.nn.RNNCell(3, 5).double()
    x, h = torch.randn(4, 3).double(), torch.randn(4, 5).double()
    got = REF.rnn_step(x, h, cell.weight_ih.T, cell.weight_hh.T, cell.bias_ih + cell.bias_hh)
    torch.testing.assert_close(got, cell(x, h))


def test_lstm_forward_matches_lstm_with_gradients():
    lstm = torch.nn.LSTM(3, 4).double()
    weights = [p.detach().clone().requires_grad_(True) for p in lstm.parameters()]
    X = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    h0, c0 = torch.randn(2, 4).double(), torch.randn(2, 4).double()
    out, (h, c) = REF.lstm_forward(X, h0, c0, *weights)
    want, (h_n, c_n) = lstm(X, (h0[None], c0[None]))
    torch.testing.assert_close(out, want)
    torch.testing.assert_close((h, c), (h_n[0], c_n[0]))
    ours = torch.autograd.grad(out.sum() + c.sum(), [X, *weights])
    theirs = torch.autograd.grad(want.sum() + c_n.sum(), [X, *lstm.parameters()])
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


def test_bidirectional_reference_matches_nn_rnn():
    rnn = torch.nn.RNN(3, 4, bidirectional=True).double()
    with torch.no_grad():
        rnn.bias_hh_l0.zero_()
        rnn.bias_hh_l0_reverse.zero_()
    x, h0 = torch.randn(5, 2, 3, dtype=torch.float64), torch.randn(2, 2, 4, dtype=torch.float64)
    fwd = (rnn.weight_ih_l0.T, rnn.weight_hh_l0.T, rnn.bias_ih_l0)
    bwd = (rnn.weight_ih_l0_reverse.T, rnn.weight_hh_l0_reverse.T, rnn.bias_ih_l0_reverse)
    got = REF.bidirectional_rnn(x, h0, fwd, bwd)
    torch.testing.assert_close(got, rnn(x, h0))


def test_seq2seq_reference_with_teacher_forcing_matches_nn_gru():
    torch.manual_seed(0)
    V, E, H = 7, 3, 4
    enc, dec = torch.nn.GRUCell(E, H).double(), torch.nn.GRUCell(E, H).double()
    emb, out = torch.nn.Embedding(V, E).double(), torch.nn.Linear(H, V).double()
    source, targets = torch.randint(0, V, (4, 3)), torch.randint(1, V, (5, 3))
    loss = REF.seq2seq_loss(enc, dec, emb, out, source, targets, 0)
    gru_e, gru_d = torch.nn.GRU(E, H).double(), torch.nn.GRU(E, H).double()
    with torch.no_grad():
        for gru, cell in ((gru_e, enc), (gru_d, dec)):
            for name, value in cell.named_parameters():
                getattr(gru, name + "_l0").copy_(value)
    _, h = gru_e(emb(source))
    states, _ = gru_d(emb(REF.teacher_forcing_inputs(targets, 0)), h)
    want = torch.nn.functional.cross_entropy(out(states).reshape(-1, V), targets.reshape(-1))
    torch.testing.assert_close(loss, want)
