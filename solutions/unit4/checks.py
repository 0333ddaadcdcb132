"""Checks for Unit 4: RNN, LSTM and GRU steps and an LSTM over a sequence.

Expected values and gradients come from PyTorch's own layers (nn.RNNCell,
nn.LSTMCell, nn.GRUCell, nn.LSTM) holding the case's weights; the student's
function is differentiated by the `call_grad` driver against the same
fixed cotangents.
"""
import numpy as np
import torch
import torch.nn.functional as F

from grader.drivers.gradients import vjp_loss
from grader.spec import Case, Exercise, Mistake, call_inputs

from . import mistakes as m

DTYPES = (np.float32, np.float64)
NAME = {np.float32: "float32", np.float64: "float64"}
LOOSE = {np.float32: 1e-5, np.float64: None}  # float32: other devices sum in other orders

# Forbidden shortcuts are families (grader/static/families.py): every spelling of the operation.
RECURRENT_SHORTCUTS = ("recurrent",)  # torch.lstm_cell, nn.LSTMCell, nn.GRU, torch._VF...
SHORTCUT_HINT = "write the gate equations yourself with matrix products, sigmoid and tanh"
STACKED_LAYOUT = ("PyTorch stores the gate weights stacked as rows: W_ih is (G*H, D) and W_hh is (G*H, H), "
                  "so multiply x @ W_ih.T and h @ W_hh.T")
PLAIN_LAYOUT = "here W_xh is (D, H) and W_hh is (H, H): x @ W_xh and h @ W_hh need no transpose"
MATMUL_ERROR = "shapes cannot be multiplied"


def _normal(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


# oracles: PyTorch's layers with the case's weights ------------------------
def _args(inputs, ctx):
    return dict(zip(inputs["arg_names"], (ctx.convert(a) for a in inputs["args"])))


def _layer(kind, a, D, H):
    """A PyTorch layer on the inputs' device and dtype whose parameters hold the case's weights."""
    x = a["x"] if "x" in a else a["X"]
    make = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell, "lstm_seq": torch.nn.LSTM}
    layer = make[kind](D, H).to(device=x.device, dtype=x.dtype)
    suffix = "_l0" if kind == "lstm_seq" else ""
    with torch.no_grad():
        if kind == "rnn":
            values = {"weight_ih": a["W_xh"].T, "weight_hh": a["W_hh"].T, "bias_ih": a["b"],
                      "bias_hh": torch.zeros_like(a["b"])}
        else:
            values = {"weight_ih": a["W_ih"], "weight_hh": a["W_hh"], "bias_ih": a["b_ih"], "bias_hh": a["b_hh"]}
        for name, value in values.items():
            getattr(layer, name + suffix).copy_(value)
    return layer


def _run(kind, a, layer):
    with torch.backends.cudnn.flags(enabled=False):  # the plain implementation on every device
        if kind in ("rnn", "gru"):
            return layer(a["x"], a["h"])
        if kind == "lstm":
            return layer(a["x"], (a["h"], a["c"]))
        out, (h, c) = layer(a["X"], (a["h0"].unsqueeze(0), a["c0"].unsqueeze(0)))
        return out, (h.squeeze(0), c.squeeze(0))


def _sizes(kind, a):
    W = a["W_xh"] if kind == "rnn" else a["W_ih"]
    return (W.shape[0], W.shape[1]) if kind == "rnn" else (W.shape[1], a["W_hh"].shape[1])


def value_oracle(kind):
    def oracle(inputs, ctx):
        a = _args(inputs, ctx)
        with torch.no_grad():
            return _run(kind, a, _layer(kind, a, *_sizes(kind, a)))
    oracle.__name__ = f"{kind}_value_oracle"
    return oracle


def grad_oracle(kind):
    """Gradients of sum(output * cotangent) from autograd through PyTorch's layer."""
    def oracle(inputs, ctx):
        a = _args(inputs, ctx)
        layer = _layer(kind, a, *_sizes(kind, a))
        for name in ("x", "h", "c", "X", "h0", "c0"):
            if name in a:
                a[name] = a[name].clone().requires_grad_(True)
        loss = vjp_loss(_run(kind, a, layer), ctx.convert(inputs["cotangent"]), inputs["fn"])
        loss.backward()
        suffix = "_l0" if kind == "lstm_seq" else ""
        p = {n: getattr(layer, n + suffix).grad for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        if kind == "rnn":
            weights = {"W_xh": p["weight_ih"].T, "W_hh": p["weight_hh"].T, "b": p["bias_ih"]}
        else:
            weights = {"W_ih": p["weight_ih"], "W_hh": p["weight_hh"], "b_ih": p["bias_ih"], "b_hh": p["bias_hh"]}
        grads = {**{n: a[n].grad for n in ("x", "h", "c", "X", "h0", "c0") if n in a}, **weights}
        return {f"d{n}": grads[n] for n in inputs["wrt"]}
    oracle.__name__ = f"{kind}_grad_oracle"
    return oracle


# case builders ------------------------------------------------------------
def _weights(rng, kind, D, H, dtype):
    scale = 1.0 / np.sqrt(H)
    if kind == "rnn":
        return {"W_xh": _normal(rng, (D, H), dtype, 2 * scale), "W_hh": _normal(rng, (H, H), dtype, 2 * scale),
                "b": _normal(rng, (H,), dtype, 0.5)}
    G = 4 if kind.startswith("lstm") else 3
    return {"W_ih": _normal(rng, (G * H, D), dtype, 2 * scale), "W_hh": _normal(rng, (G * H, H), dtype, 2 * scale),
            "b_ih": _normal(rng, (G * H,), dtype, 0.5), "b_hh": _normal(rng, (G * H,), dtype, 0.5)}


def _step_args(rng, kind, N, D, H, dtype, zero_state=False):
    state = (lambda shape: np.zeros(shape, dtype)) if zero_state else (lambda shape: _normal(rng, shape, dtype))
    args = {"x": _normal(rng, (N, D), dtype), "h": state((N, H))}
    if kind == "lstm":
        args["c"] = state((N, H))
    return {**args, **_weights(rng, kind, D, H, dtype)}


def _cotangent(rng, kind, shapes, dtype):
    if kind == "lstm":
        return (_normal(rng, shapes, dtype), _normal(rng, shapes, dtype))
    if kind == "lstm_seq":
        T, N, H = shapes
        return (_normal(rng, (T, N, H), dtype), (_normal(rng, (N, H), dtype), _normal(rng, (N, H), dtype)))
    return _normal(rng, shapes, dtype)


def _hints(kind):
    return {MATMUL_ERROR: PLAIN_LAYOUT if kind == "rnn" else STACKED_LAYOUT}


def step_cases(kind, fn, sizes):
    """Value cases for each size and dtype, a zero-state case, and float64 gradient cases."""
    def cases(rng):
        out = []
        for dtype in DTYPES:
            for N, D, H in sizes:
                args = _step_args(rng, kind, N, D, H, dtype)
                out.append(Case(f"N={N}, D={D}, H={H}, {NAME[dtype]}",
                                {**call_inputs(fn, args), "error_hints": _hints(kind)}, driver="call_hinted",
                                rtol=LOOSE[dtype], atol=LOOSE[dtype], oracle=value_oracle(kind)))
        args = _step_args(rng, kind, 2, 3, 4, np.float64, zero_state=True)
        out.append(Case("first step, from a zero state", {**call_inputs(fn, args), "error_hints": _hints(kind)},
                        driver="call_hinted", oracle=value_oracle(kind)))
        for N, D, H in sizes[:2]:
            args = _step_args(rng, kind, N, D, H, np.float64)
            inputs = {**call_inputs(fn, args), "wrt": list(args), "error_hints": _hints(kind),
                      "cotangent": _cotangent(rng, kind, (N, H), np.float64)}
            out.append(Case(f"gradients of every input and weight, N={N}, D={D}, H={H}", inputs,
                            driver="call_grad", oracle=grad_oracle(kind)))
        return out
    return cases


def lstm_forward_cases(rng):
    out = []
    for dtype in DTYPES:
        for T, N, D, H in ((5, 3, 4, 6), (1, 2, 3, 2), (12, 4, 8, 8)):
            args = {"X": _normal(rng, (T, N, D), dtype), "h0": _normal(rng, (N, H), dtype),
                    "c0": _normal(rng, (N, H), dtype), **_weights(rng, "lstm_seq", D, H, dtype)}
            out.append(Case(f"T={T}, N={N}, D={D}, H={H}, {NAME[dtype]}",
                            {**call_inputs("lstm_forward", args), "error_hints": _hints("lstm_seq")},
                            driver="call_hinted", rtol=LOOSE[dtype], atol=LOOSE[dtype],
                            oracle=value_oracle("lstm_seq")))
    for T, N, D, H in ((4, 2, 3, 5), (7, 3, 2, 4)):
        args = {"X": _normal(rng, (T, N, D), np.float64), "h0": _normal(rng, (N, H), np.float64),
                "c0": _normal(rng, (N, H), np.float64), **_weights(rng, "lstm_seq", D, H, np.float64)}
        inputs = {**call_inputs("lstm_forward", args), "wrt": list(args), "error_hints": _hints("lstm_seq"),
                  "cotangent": _cotangent(rng, "lstm_seq", (T, N, H), np.float64)}
        out.append(Case(f"gradients through all {T} steps, N={N}, D={D}, H={H}", inputs, driver="call_grad",
                        oracle=grad_oracle("lstm_seq")))
    return out


# bidirectional_rnn ---------------------------------------------------------
def _birnn(inputs, ctx, grad=False):
    """nn.RNN(bidirectional=True) holding the case's weights (bias_hh zero), run on x from h0."""
    a = _args(inputs, ctx)
    x = a["x"].clone().requires_grad_(grad)
    h0 = a["h0"].clone().requires_grad_(grad)
    D, H = a["params_fwd"][0].shape
    layer = torch.nn.RNN(D, H, bidirectional=True).to(device=x.device, dtype=x.dtype)
    with torch.no_grad():
        for suffix, (W_xh, W_hh, b) in (("_l0", a["params_fwd"]), ("_l0_reverse", a["params_bwd"])):
            getattr(layer, "weight_ih" + suffix).copy_(W_xh.T)
            getattr(layer, "weight_hh" + suffix).copy_(W_hh.T)
            getattr(layer, "bias_ih" + suffix).copy_(b)
            getattr(layer, "bias_hh" + suffix).zero_()
    with torch.backends.cudnn.flags(enabled=False):
        return layer(x, h0), x, h0


def birnn_value_oracle(inputs, ctx):
    with torch.no_grad():
        return _birnn(inputs, ctx)[0]


def birnn_grad_oracle(inputs, ctx):
    out, x, h0 = _birnn(inputs, ctx, grad=True)
    vjp_loss(out, ctx.convert(inputs["cotangent"]), inputs["fn"]).backward()
    return {"dx": x.grad, "dh0": h0.grad}


def birnn_cases(rng):
    out = []
    for dtype in DTYPES:
        for T, N, D, H in ((5, 3, 4, 6), (1, 2, 3, 3), (9, 4, 5, 5)):
            args = {"x": _normal(rng, (T, N, D), dtype), "h0": _normal(rng, (2, N, H), dtype),
                    "params_fwd": list(_weights(rng, "rnn", D, H, dtype).values()),
                    "params_bwd": list(_weights(rng, "rnn", D, H, dtype).values())}
            out.append(Case(f"T={T}, N={N}, D={D}, H={H}, {NAME[dtype]}", call_inputs("bidirectional_rnn", args),
                            driver="call_nested", rtol=LOOSE[dtype], atol=LOOSE[dtype], oracle=birnn_value_oracle))
    for T, N, D, H in ((4, 2, 3, 4), (6, 3, 2, 5)):
        args = {"x": _normal(rng, (T, N, D), np.float64), "h0": _normal(rng, (2, N, H), np.float64),
                "params_fwd": list(_weights(rng, "rnn", D, H, np.float64).values()),
                "params_bwd": list(_weights(rng, "rnn", D, H, np.float64).values())}
        cot = (_normal(rng, (T, N, 2 * H), np.float64), _normal(rng, (2, N, H), np.float64))
        out.append(Case(f"gradients of x and h0 through both directions, T={T}",
                        {**call_inputs("bidirectional_rnn", args), "wrt": ["x", "h0"], "cotangent": cot},
                        driver="call_grad", oracle=birnn_grad_oracle))
    return out


# many_to_one_classifier ------------------------------------------------------
def _classifier(inputs, ctx, grad=False):
    """nn.LSTM holding the case's weights, then F.linear on its last hidden state."""
    a = _args(inputs, ctx)
    if grad:
        a = {k: v.clone().requires_grad_(True) for k, v in a.items()}
    layer = _layer("lstm_seq", a, *_sizes("lstm_seq", a))
    out, (h_T, _) = _run("lstm_seq", a, layer)
    return F.linear(h_T, a["W_out"], a["b_out"]), a, layer


def classifier_value_oracle(inputs, ctx):
    with torch.no_grad():
        return _classifier(inputs, ctx)[0]


def classifier_grad_oracle(inputs, ctx):
    """Gradients by autograd through nn.LSTM (its parameters' .grad for the LSTM weights) and F.linear."""
    scores, a, layer = _classifier(inputs, ctx, grad=True)
    (scores * ctx.convert(inputs["cotangent"])).sum().backward()
    grads = {n: a[n].grad for n in a}
    grads.update({"W_ih": layer.weight_ih_l0.grad, "W_hh": layer.weight_hh_l0.grad,
                  "b_ih": layer.bias_ih_l0.grad, "b_hh": layer.bias_hh_l0.grad})
    return {f"d{n}": grads[n] for n in inputs["wrt"]}


def _classifier_args(rng, T, N, D, H, C, dtype):
    return {"X": _normal(rng, (T, N, D), dtype), "h0": _normal(rng, (N, H), dtype), "c0": _normal(rng, (N, H), dtype),
            **_weights(rng, "lstm_seq", D, H, dtype),
            "W_out": _normal(rng, (C, H), dtype, 1 / np.sqrt(H)), "b_out": _normal(rng, (C,), dtype, 0.5)}


def classifier_cases(rng):
    out = []
    for dtype in DTYPES:
        for T, N, D, H, C in ((6, 3, 4, 5, 3), (1, 2, 3, 4, 2), (10, 4, 6, 8, 5)):
            args = _classifier_args(rng, T, N, D, H, C, dtype)
            out.append(Case(f"T={T}, N={N}, D={D}, H={H}, C={C}, {NAME[dtype]}",
                            {**call_inputs("many_to_one_classifier", args), "error_hints": _hints("lstm_seq")},
                            driver="call_hinted", rtol=LOOSE[dtype], atol=LOOSE[dtype],
                            oracle=classifier_value_oracle))
    T, N, D, H, C = 5, 3, 3, 4, 3
    args = _classifier_args(rng, T, N, D, H, C, np.float64)
    out.append(Case(f"gradients of every input and weight, T={T}",
                    {**call_inputs("many_to_one_classifier", args), "wrt": list(args), "error_hints": _hints("lstm_seq"),
                     "cotangent": _normal(rng, (N, C), np.float64)}, driver="call_grad", oracle=classifier_grad_oracle))
    return out


# teacher_forcing_inputs --------------------------------------------------------
def teacher_cases(rng):
    out = [Case("the notebook's example: targets 5, 6, 7 for one sequence, bos 1",
                call_inputs("teacher_forcing_inputs", {"targets": np.array([[5], [6], [7]], np.int64), "bos": 1}),
                public_only=True)]
    for T, N in ((6, 3), (4, 1), (1, 5), (9, 2)):
        V = int(rng.integers(5, 30))
        targets = rng.integers(1, V, size=(T, N)).astype(np.int64)
        out.append(Case(f"T={T}, N={N}", call_inputs("teacher_forcing_inputs", {"targets": targets,
                                                                               "bos": int(rng.integers(0, V))})))
    return out


# seq2seq_loss -------------------------------------------------------------------
def _seq2seq_modules(rng, V, E, H, dtype):
    def gru(inp):
        return ["GRUCell", [inp, H], {"weight_ih": _normal(rng, (3 * H, inp), dtype, 1 / np.sqrt(H)),
                                      "weight_hh": _normal(rng, (3 * H, H), dtype, 1 / np.sqrt(H)),
                                      "bias_ih": _normal(rng, (3 * H,), dtype, 0.3),
                                      "bias_hh": _normal(rng, (3 * H,), dtype, 0.3)}]
    return [gru(E), gru(E), ["Embedding", [V, E], {"weight": _normal(rng, (V, E), dtype)}],
            ["Linear", [H, V], {"weight": _normal(rng, (V, H), dtype, 2 / np.sqrt(H)),
                                "bias": _normal(rng, (V,), dtype, 0.3)}]]


def seq2seq_oracle(inputs, ctx):
    """The loss by PyTorch's own layers (nn.GRU over the whole sequence with teacher forcing) and its gradients."""
    (_, (V, E), e), (_, (H, _), r) = inputs["modules"][2], inputs["modules"][3]
    dtype = ctx.tensor(e["weight"]).dtype
    embedding = torch.nn.Embedding(V, E).to(ctx.device, dtype)
    readout = torch.nn.Linear(H, V).to(ctx.device, dtype)
    encoder, decoder = (torch.nn.GRU(E, H).to(ctx.device, dtype) for _ in range(2))
    with torch.no_grad():
        embedding.weight.copy_(ctx.tensor(e["weight"]))
        readout.weight.copy_(ctx.tensor(r["weight"]))
        readout.bias.copy_(ctx.tensor(r["bias"]))
        for gru, (_, _, state) in ((encoder, inputs["modules"][0]), (decoder, inputs["modules"][1])):
            for name, value in state.items():
                getattr(gru, name + "_l0").copy_(ctx.tensor(value))
    source, targets, bos = (ctx.convert(a) for a in inputs["args"])
    teacher = inputs["kwargs"].get("teacher_forcing", True)
    with torch.backends.cudnn.flags(enabled=False):
        _, h = encoder(embedding(source))                                        # (1, N, H)
        if teacher:
            shifted = torch.cat([torch.full_like(targets[:1], bos), targets[:-1]])
            out, _ = decoder(embedding(shifted), h)                              # (T, N, H)
            scores = readout(out)                                                # (T, N, V)
        else:
            token, steps = torch.full_like(targets[0], bos), []
            for _ in range(targets.shape[0]):
                out, h = decoder(embedding(token)[None], h)
                steps.append(readout(out[0]))
                token = steps[-1].argmax(dim=1)
            scores = torch.stack(steps)
    loss = F.cross_entropy(scores.reshape(-1, V), targets.reshape(-1))
    loss.backward()
    named = [dict(gru.named_parameters()) for gru in (encoder, decoder)]
    grads = [{k: named[i][k + "_l0"].grad for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")} for i in range(2)]
    grads += [{"weight": embedding.weight.grad}, {"weight": readout.weight.grad, "bias": readout.bias.grad}]
    return {"loss": loss.detach(), "gradients": grads}


def seq2seq_cases(rng):
    out = []
    for dtype, teacher in ((np.float64, True), (np.float32, True), (np.float64, False)):
        V, E, H, S, T, N = int(rng.integers(6, 12)), 4, 5, int(rng.integers(3, 6)), int(rng.integers(3, 6)), 3
        inputs = {"fn": "seq2seq_loss", "modules": _seq2seq_modules(rng, V, E, H, dtype),
                  "args": [rng.integers(0, V, size=(S, N)).astype(np.int64),
                           rng.integers(1, V, size=(T, N)).astype(np.int64), 0],
                  "kwargs": {"teacher_forcing": teacher}}
        mode = "with teacher forcing" if teacher else "feeding back its own predictions (teacher_forcing=False)"
        out.append(Case(f"loss and gradients {mode}, {NAME[dtype]}", inputs, driver="modules_loss",
                        rtol=LOOSE[dtype], atol=LOOSE[dtype], oracle=seq2seq_oracle))
    return out


# the square sizes (D == H) let a transposed W_xh run, so that mistake is recognised
RNN_SIZES = ((4, 3, 5), (1, 6, 2), (3, 4, 4), (8, 10, 16))
CELL_SIZES = ((4, 3, 5), (1, 6, 2), (8, 10, 16))


def _mistakes(fn, pairs):
    return tuple(Mistake(hint, {fn: wrong}) for hint, wrong in pairs)


GATE_ORDER = "the gate blocks of W_ih come in the order input, forget, cell (g), output: i, f, g, o = gates.chunk(4, 1)"
SWAPPED = "sigmoid and tanh are swapped: the gates i, f, o use sigmoid, the candidate g and the output use tanh"
GRU_ORDER = "the rows of W_ih come in the order reset, update, new: r, z, n = ....chunk(3, 1)"

EXERCISES = [
    Exercise(
        name="rnn_step",
        entry=("rnn_step",),
        cases=step_cases("rnn", "rnn_step", RNN_SIZES),
        forbidden=RECURRENT_SHORTCUTS,
        forbidden_hint=SHORTCUT_HINT,
        mistakes=_mistakes("rnn_step", (
            ("add the bias b before the tanh", m.rnn_no_bias),
            ("a vanilla RNN uses tanh, not sigmoid", m.rnn_sigmoid),
            ("this RNN uses tanh, not ReLU", m.rnn_relu),
            ("apply tanh to the pre-activation", m.rnn_no_activation),
            (PLAIN_LAYOUT, m.rnn_transposed),
            ("W_hh is (H, H) and used as h @ W_hh; a transposed W_hh has the right shape but the wrong values",
             m.rnn_transposed_hh),
            ("the previous hidden state enters through h @ W_hh; it is missing", m.rnn_no_recurrence),
        )),
    ),
    Exercise(
        name="lstm_step",
        entry=("lstm_step",),
        cases=step_cases("lstm", "lstm_step", CELL_SIZES),
        outputs=("h_next", "c_next"),
        forbidden=RECURRENT_SHORTCUTS,
        forbidden_hint=SHORTCUT_HINT,
        mistakes=_mistakes("lstm_step", (
            (GATE_ORDER + " (you used i, f, o, g)", m.lstm_order_ifog),
            (GATE_ORDER + " (you swapped input and forget)", m.lstm_order_figo),
            (GATE_ORDER, m.lstm_order_gifo),
            (SWAPPED, m.lstm_swapped_activations),
            ("the cell candidate g uses tanh, not sigmoid", m.lstm_sigmoid_candidate),
            ("apply tanh to the cell candidate g once: you applied it twice", m.lstm_candidate_tanh_twice),
            ("h_next = o * tanh(c_next): the tanh on the cell is missing", m.lstm_no_cell_tanh),
            ("the forget gate scales the previous cell state c, not h: c_next = f * c + i * g", m.lstm_forget_on_h),
            (STACKED_LAYOUT + "; reshaping W_ih to (D, 4H) mixes up its entries", m.lstm_reshaped_weights),
            ("add both biases, b_ih and b_hh", m.lstm_one_bias),
            ("h_next uses the new cell state: o * tanh(c_next)", m.lstm_h_from_old_c),
        )),
    ),
    Exercise(
        name="gru_step",
        entry=("gru_step",),
        cases=step_cases("gru", "gru_step", CELL_SIZES),
        forbidden=RECURRENT_SHORTCUTS,
        forbidden_hint=SHORTCUT_HINT,
        mistakes=_mistakes("gru_step", (
            ("in nn.GRUCell the update gate keeps the old state: h_next = (1 - z) * n + z * h", m.gru_blend_swapped),
            ("nn.GRUCell applies the reset gate after the product: n = tanh(x_n + r * (h @ W_hn.T + b_hn))",
             m.gru_reset_before_matmul),
            ("the reset gate scales only the hidden part of n, not the input part", m.gru_reset_on_everything),
            (GRU_ORDER, m.gru_order_zrn),
            ("sigmoid and tanh are swapped: r and z use sigmoid, the new state n uses tanh", m.gru_swapped_activations),
            (STACKED_LAYOUT + "; reshaping W_ih to (D, 3H) mixes up its entries", m.gru_reshaped_weights),
        )),
    ),
    Exercise(
        name="lstm_forward",
        entry=("lstm_forward",),
        cases=lstm_forward_cases,
        outputs=("outputs", "(h_T, c_T)"),
        forbidden=RECURRENT_SHORTCUTS,
        forbidden_hint=SHORTCUT_HINT,
        mistakes=_mistakes("lstm_forward", (
            ("outputs holds the hidden state h of every step, not the cell state c", m.lstm_forward_cell_outputs),
            ("carry (h, c) from one step to the next instead of starting every step from (h0, c0)",
             m.lstm_forward_no_carry),
            ("carry the cell state c from step to step too", m.lstm_forward_cell_reset),
            ("append h after the step, so that outputs[t] is the state after reading X[t]", m.lstm_forward_shifted),
            ("stack the outputs along a new first axis: outputs is (T, N, H), not (N, T, H)",
             m.lstm_forward_batch_first),
            ("your lstm_step is wrong (the gate order): fix lstm_step first", m.lstm_forward_wrong_step),
        )),
    ),
    Exercise(
        name="bidirectional_rnn",
        entry=("bidirectional_rnn",),
        cases=birnn_cases,
        outputs=("outputs", "h_n"),
        forbidden=RECURRENT_SHORTCUTS,
        forbidden_hint=SHORTCUT_HINT,
        mistakes=_mistakes("bidirectional_rnn", (
            ("store the backward state computed from x[t] at position t of outputs: you stored them in the order "
             "they were computed (reverse the list, or fill it from the end)", m.birnn_backward_not_realigned),
            ("the backward direction reads the sequence from x[T-1] down to x[0]", m.birnn_backward_not_reversed),
            ("each direction has its own weights: the backward one uses params_bwd", m.birnn_shared_params),
            ("the backward direction starts from h0[1], the forward one from h0[0]", m.birnn_same_start),
            ("h_n holds each direction's last state: for the backward direction that is its state after reading "
             "x[0], which sits at outputs[0], not outputs[-1]", m.birnn_last_output),
        )),
    ),
    Exercise(
        name="many_to_one_classifier",
        entry=("many_to_one_classifier",),
        cases=classifier_cases,
        forbidden=RECURRENT_SHORTCUTS,
        forbidden_hint=SHORTCUT_HINT,
        mistakes=_mistakes("many_to_one_classifier", (
            ("classify from the last hidden state h_T, not the mean of all the states", m.classifier_mean_pool),
            ("classify from the state after the whole sequence, h_T, not the first step's", m.classifier_first_step),
            ("classify from the hidden state h_T, not the cell state c_T", m.classifier_cell_state),
            ("return the scores (logits); the loss applies the softmax", m.classifier_softmax),
            ("add the bias b_out to the scores", m.classifier_no_bias),
        )),
    ),
    Exercise(
        name="teacher_forcing_inputs",
        entry=("teacher_forcing_inputs",),
        cases=teacher_cases,
        mistakes=_mistakes("teacher_forcing_inputs", (
            ("shift the targets one step later: the decoder reads bos first and then targets[t - 1] at step t, "
             "never the token it has to predict", m.teacher_unshifted),
            ("bos goes first: row 0 is bos and the last target is never an input", m.teacher_bos_last),
            ("keep targets[0] and drop the last target: the inputs are bos, targets[0], ..., targets[T-2]",
             m.teacher_drops_first),
            ("the inputs have as many steps as the targets: drop the last target after putting bos in front",
             m.teacher_too_long),
            ("time runs along the first axis (targets is (T, N)): shift along dim 0", m.teacher_batch_first),
        )),
    ),
    Exercise(
        name="seq2seq_loss",
        entry=("seq2seq_loss",),
        cases=seq2seq_cases,
        outputs=("loss", "gradients"),
        mistakes=_mistakes("seq2seq_loss", (
            ("the decoder starts from the encoder's last state, not from zeros", m.seq2seq_decoder_from_zeros),
            ("the decoder must not read the token it predicts: feed bos, then targets[t - 1] "
             "(teacher_forcing_inputs)", m.seq2seq_reads_targets),
            ("average the cross-entropy over every target token; do not sum over the steps", m.seq2seq_summed),
            ("with teacher_forcing=False feed back the decoder's own prediction, scores.argmax(dim=1)",
             m.seq2seq_always_teacher),
        )),
    ),
]
