"""Source of exercises/unit4/recurrent.ipynb; `python scripts/notebooks/unit4.py` rewrites it."""
from __future__ import annotations

from pathlib import Path

from grader.notebook.build import build_notebook

NOTEBOOK = Path(__file__).resolve().parents[2] / "exercises" / "unit4" / "recurrent.ipynb"

CELLS = [
    ("markdown", r"""# Unit 4: recurrent networks

A recurrent network reads a sequence one element at a time and carries a *state* from step to step.
In this notebook you write one step of three recurrent cells (a plain RNN, an LSTM and a GRU), run the
LSTM over a whole sequence, read a sequence in both directions, classify sequences, and compute the
training loss of a small encoder-decoder. Each function is checked against PyTorch's own layers
(`nn.RNNCell`, `nn.LSTMCell`, `nn.GRUCell`, `nn.LSTM`) holding the same weights: the values *and* the
gradients must agree.

Conventions used throughout: a batch of `N` inputs of size `D`, a hidden state of size `H`, and for a
sequence `T` time steps. Write everything with tensor operations (`@`, `torch.sigmoid`, `torch.tanh`,
`chunk`, `torch.stack`); PyTorch's recurrent kernels (`torch.lstm_cell` and friends, which the
`nn` layers call) are not allowed. Your code must work on a GPU as well, so create no tensors on a
fixed device."""),
    ("code", "import torch"),
    ("markdown", r"""## 1. One step of a vanilla RNN

The new state mixes the current input with the previous state and squashes the sum with `tanh`:

$$h_{t} = \tanh(x_t W_{xh} + h_{t-1} W_{hh} + b)$$

Here the weights are stored the way the formula reads: `W_xh` is `(D, H)` and `W_hh` is `(H, H)`, so a
row of inputs times `W_xh` gives a row of `H` numbers. Because `tanh` keeps every entry in $(-1, 1)$,
the state's *values* stay bounded however long the sequence is. Its *gradients* do not: backpropagated
through many steps, they are multiplied by $W_{hh}$ and by the derivative of `tanh` once per step, so they
can still vanish or explode. That is what the gated cells below address."""),
    ("code", r'''def rnn_step(x, h, W_xh, W_hh, b):
    """One RNN step.

    x: (N, D) inputs, h: (N, H) previous state, W_xh: (D, H), W_hh: (H, H), b: (H,).
    Returns the next state, (N, H).
    """
    raise NotImplementedError("rnn_step: compute tanh(x @ W_xh + h @ W_hh + b)")'''),
    ("code", 'from grader import check\ncheck("rnn_step")'),
    ("markdown", r"""## 2. One step of an LSTM

An LSTM keeps two states: the hidden state $h$ (what the cell shows to the next layer) and the cell
state $c$ (its long-term memory). Four *gates* are computed from the same input and previous state:

$$\begin{aligned}
i &= \sigma(x W_{ii}^\top + b_{ii} + h W_{hi}^\top + b_{hi}) &&\text{input gate: how much new content to write}\\
f &= \sigma(x W_{if}^\top + b_{if} + h W_{hf}^\top + b_{hf}) &&\text{forget gate: how much of } c \text{ to keep}\\
g &= \tanh(x W_{ig}^\top + b_{ig} + h W_{hg}^\top + b_{hg}) &&\text{candidate content, in } (-1, 1)\\
o &= \sigma(x W_{io}^\top + b_{io} + h W_{ho}^\top + b_{ho}) &&\text{output gate: how much of the memory to show}\\
c' &= f \odot c + i \odot g \qquad h' = o \odot \tanh(c')
\end{aligned}$$

The three gates use the sigmoid because they are soft switches between 0 and 1; the candidate and the
output squashing use tanh because they carry signed content.

**PyTorch's layout.** `nn.LSTMCell` stacks the four weight matrices on top of each other: `W_ih` is
`(4H, D)` and `W_hh` is `(4H, H)`, with the blocks of `H` rows in the order **input, forget, cell,
output** (i, f, g, o). The biases `b_ih` and `b_hh` are `(4H,)` in the same order. So compute all four
pre-activations at once with `x @ W_ih.T + b_ih + h @ W_hh.T + b_hh`, a `(N, 4H)` tensor, and split its
columns into four `(N, H)` pieces with `chunk(4, dim=1)`. Other books use other orders (i, f, o, g is
common); with PyTorch's weights only i, f, g, o gives PyTorch's answer."""),
    ("code", r'''def lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """One LSTM step in nn.LSTMCell's layout.

    x: (N, D), h: (N, H), c: (N, H), W_ih: (4H, D), W_hh: (4H, H), b_ih: (4H,), b_hh: (4H,).
    Gate blocks in the order input, forget, cell, output.
    Returns (h_next, c_next), both (N, H).
    """
    raise NotImplementedError("lstm_step: compute the four gates, then c_next and h_next")'''),
    ("code", 'from grader import check\ncheck("lstm_step")'),
    ("markdown", r"""## 3. One step of a GRU

A GRU has a single state $h$ and two gates. The reset gate $r$ decides how much of the old state
feeds the new candidate $n$; the update gate $z$ then interpolates between the old state and that
candidate. In `nn.GRUCell`'s convention:

$$\begin{aligned}
r &= \sigma(x W_{ir}^\top + b_{ir} + h W_{hr}^\top + b_{hr})\\
z &= \sigma(x W_{iz}^\top + b_{iz} + h W_{hz}^\top + b_{hz})\\
n &= \tanh\big(x W_{in}^\top + b_{in} + r \odot (h W_{hn}^\top + b_{hn})\big)\\
h' &= (1 - z) \odot n + z \odot h
\end{aligned}$$

Two details differ between textbooks, and PyTorch picks one of each: the reset gate multiplies the
hidden part *after* its matrix product (bias $b_{hn}$ included), and $z$ close to 1 *keeps* the old
state. **The lecture's update gate is $1 - z$ of PyTorch's:** the lecture writes
$h' = (1 - z_{\text{lecture}}) \odot h + z_{\text{lecture}} \odot n$, so its $z$ close to 1 takes the *new*
candidate, and $z_{\text{lecture}} = 1 - z$. Since $1 - \sigma(a) = \sigma(-a)$, the lecture's GRU is PyTorch's with
the update gate's weights and biases negated. This notebook and the check use PyTorch's $z$.

The layout is like the LSTM's with three blocks: `W_ih` is `(3H, D)`, `W_hh` is `(3H, H)`,
rows in the order **reset, update, new** (r, z, n). Keep the input part and the hidden part of the
pre-activations apart, since $r$ only touches the hidden part of $n$."""),
    ("code", r'''def gru_step(x, h, W_ih, W_hh, b_ih, b_hh):
    """One GRU step in nn.GRUCell's layout.

    x: (N, D), h: (N, H), W_ih: (3H, D), W_hh: (3H, H), b_ih: (3H,), b_hh: (3H,).
    Row blocks in the order reset, update, new.
    Returns h_next, (N, H).
    """
    raise NotImplementedError("gru_step: compute r, z and n, then blend n with h")'''),
    ("code", 'from grader import check\ncheck("gru_step")'),
    ("markdown", r"""## 4. An LSTM over a sequence

Unrolling the cell over time means calling the same step, with the same weights, on
$x_1, \dots, x_T$ and feeding each step's $(h, c)$ into the next one:

$$(h_t, c_t) = \text{LSTMStep}(x_t, h_{t-1}, c_{t-1}), \qquad t = 1, \dots, T.$$

Return the hidden state after every step stacked into `outputs` of shape `(T, N, H)` (so
`outputs[t]` is the state after reading `X[t]`), together with the final `(h_T, c_T)`. This is what a
one-layer `nn.LSTM` returns, except that `nn.LSTM` gives `h_T` and `c_T` an extra leading axis of
length 1 (the number of layers); here they are plain `(N, H)` tensors, like `h0` and `c0`.
Use your `lstm_step`. Gradients flow back through every step (backpropagation through time), and the
check compares them too."""),
    ("code", r'''def lstm_forward(X, h0, c0, W_ih, W_hh, b_ih, b_hh):
    """Run lstm_step over a sequence.

    X: (T, N, D), h0: (N, H), c0: (N, H); weights as in lstm_step.
    Returns (outputs, (h_T, c_T)) with outputs: (T, N, H), h_T: (N, H), c_T: (N, H).
    """
    raise NotImplementedError("lstm_forward: loop over the T steps of X")'''),
    ("code", 'from grader import check\ncheck("lstm_forward")'),
    ("markdown", r"""## 5. A bidirectional RNN

A state that has only read $x_0, \dots, x_t$ knows nothing about what comes after step $t$. A
*bidirectional* RNN runs a second RNN, with its own weights, from the end of the sequence to its start,
and describes step $t$ by both states side by side:

$$\overrightarrow h_t = \text{RNNStep}(x_t, \overrightarrow h_{t-1}; \theta_{\rightarrow}), \qquad
\overleftarrow h_t = \text{RNNStep}(x_t, \overleftarrow h_{t+1}; \theta_{\leftarrow}), \qquad
\text{out}_t = [\overrightarrow h_t ; \overleftarrow h_t].$$

The forward direction starts from `h0[0]` before $x_0$, the backward one from `h0[1]` after $x_{T-1}$.
Return `outputs` of shape `(T, N, 2H)`, with the forward state in the first `H` columns, and `h_n` of shape
`(2, N, H)`: the forward state after $x_{T-1}$ and the backward state after $x_0$. The backward state
computed from $x_t$ belongs at position $t$ of `outputs`, although it is computed $T - 1 - t$ steps into
the backward pass. This is what `nn.RNN(D, H, bidirectional=True)` returns, and the check compares with
it (its second bias set to zero). Each `params_*` is a tuple `(W_xh, W_hh, b)` as in `rnn_step`; use your
`rnn_step`."""),
    ("code", r'''def bidirectional_rnn(x, h0, params_fwd, params_bwd):
    """x: (T, N, D); h0: (2, N, H); params_fwd, params_bwd: (W_xh, W_hh, b) as in rnn_step.
    Returns (outputs (T, N, 2H), h_n (2, N, H)).
    """
    raise NotImplementedError("bidirectional_rnn: run one rnn_step loop forwards and one backwards")'''),
    ("code", 'check("bidirectional_rnn")'),
    ("markdown", r"""## 6. Classifying a whole sequence

A *many-to-one* network reads a whole sequence and gives one answer: the last hidden state $h_T$ has
seen every input, so a linear layer on it gives the class scores, $s = h_T W_{\text{out}}^\top +
b_{\text{out}}$, with `W_out` of shape `(C, H)` and `b_out` of shape `(C,)` as in `nn.Linear(H, C)`.
Use your `lstm_forward` and return the scores (the logits, no softmax), shape `(N, C)`. The check
compares the scores and their gradients with `nn.LSTM` followed by `F.linear`."""),
    ("code", r'''def many_to_one_classifier(X, h0, c0, W_ih, W_hh, b_ih, b_hh, W_out, b_out):
    """X: (T, N, D); h0, c0: (N, H); LSTM weights as in lstm_step; W_out: (C, H); b_out: (C,).
    Returns the class scores (N, C) computed from the last hidden state.
    """
    raise NotImplementedError("many_to_one_classifier: lstm_forward, then a linear layer on h_T")'''),
    ("code", 'check("many_to_one_classifier")'),
    ("markdown", r"""## 7. An encoder-decoder trained with teacher forcing

A sequence-to-sequence model reads a source sequence with an *encoder* RNN and hands its last state
to a *decoder* RNN, which writes the target sequence one token at a time; each step's hidden state is
turned into scores over the vocabulary by a linear *readout*. During training the decoder must not read
the token it is asked to predict. With *teacher forcing* it reads the previous **true** token instead
of its own guess: a start token `bos` at step 0, then `targets[t - 1]` at step $t$. So the decoder's
inputs are the targets shifted one step later, with `bos` in front and the last target dropped:

| step $t$ | 0 | 1 | 2 |
|---|---|---|---|
| target | 5 | 6 | 7 |
| input | bos | 5 | 6 |

`targets` is `(T, N)` (time first, as everywhere in this unit); return an int64 tensor of the same
shape."""),
    ("code", r'''def teacher_forcing_inputs(targets, bos):
    """targets: (T, N) int64 token ids; bos: an int. Returns (T, N): bos, then targets[:-1]."""
    raise NotImplementedError("teacher_forcing_inputs")'''),
    ("code", 'check("teacher_forcing_inputs")'),
    ("markdown", r"""Now the loss of a tiny encoder-decoder. All modules are given, as PyTorch's layers (calling them is
allowed here):
`encoder_cell` and `decoder_cell` are `nn.GRUCell(E, H)`, `embedding` is `nn.Embedding(V, E)` (shared
by both sides: it turns token ids into vectors), `readout` is `nn.Linear(H, V)`.

1. Encoder: start from a zero state, `torch.zeros(N, H)` on the inputs' device and in the weights'
   dtype, and update it with `encoder_cell(embedding(source[s]), h)` for every source step.
2. Decoder: start from the encoder's last state. At step $t$, read an input token, update
   `h = decoder_cell(embedding(token), h)`, compute `scores = readout(h)`, shape `(N, V)`, and the
   cross-entropy of `scores` against `targets[t]`.
3. With `teacher_forcing=True` the input tokens are `teacher_forcing_inputs(targets, bos)`. With
   `teacher_forcing=False` the decoder reads `bos` first and then its own prediction of the step before,
   `scores.argmax(dim=1)`: that is how it runs once trained, when no targets exist.
4. Return the mean cross-entropy over all $T \cdot N$ target tokens, a 0-d tensor.

Do not call `loss.backward()` yourself: the check backpropagates your loss and compares the loss and
the gradients of every module's parameters with PyTorch's `nn.GRU` run over the whole sequence and
differentiated by autograd."""),
    ("code", r'''def seq2seq_loss(encoder_cell, decoder_cell, embedding, readout, source, targets, bos, teacher_forcing=True):
    """source: (S, N) and targets: (T, N) int64 token ids; bos: the start token (an int).
    Returns the mean cross-entropy over every target token (a 0-d tensor).
    """
    raise NotImplementedError("seq2seq_loss: encode the source, then decode the targets step by step")'''),
    ("code", 'check("seq2seq_loss")'),
]


def render() -> str:
    """The notebook as JSON text."""
    return build_notebook(CELLS)


if __name__ == "__main__":
    NOTEBOOK.write_text(render(), encoding="utf-8")
