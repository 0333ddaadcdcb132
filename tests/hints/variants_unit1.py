"""Unit 1 as students write it: perceptrons, the delta rule, logistic regression, softmax and its losses,
least squares, the squared hinge loss and an autoencoder with its outlier scores."""
from real_code import Variant


def _wrong(exercise, title, source, hint):
    return Variant("unit1", exercise, title, source, hint)


def _right(exercise, title, source):
    return Variant("unit1", exercise, title, source)


OVERFLOW = "subtract the max"
ROW_MAX = "subtract the row max"
LOG_SUM_EXP = "log-sum-exp"

WRONG = [
    # softmax ------------------------------------------------------------------
    _wrong("softmax", "no max, unsqueeze", '''
def softmax(z, dim=-1):
    exps = torch.exp(z)
    return exps / torch.sum(exps, dim=dim).unsqueeze(dim)
''', OVERFLOW),
    _wrong("softmax", "no max, loop over rows", '''
def softmax(z, dim=-1):
    moved = z.movedim(dim, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    out = torch.empty_like(flat)
    for i in range(flat.shape[0]):
        e = torch.exp(flat[i])
        out[i] = e / e.sum()
    return out.reshape(moved.shape).movedim(-1, dim)
''', OVERFLOW),
    _wrong("softmax", "naive log-normaliser", '''
def softmax(z, dim=-1):
    log_norm = torch.log(torch.sum(torch.exp(z), dim=dim, keepdim=True))
    return torch.exp(z - log_norm)
''', OVERFLOW),
    _wrong("softmax", "subtracts the min", '''
def softmax(z, dim=-1):
    z = z - z.min(dim=dim, keepdim=True).values
    return z.exp() / z.exp().sum(dim=dim, keepdim=True)
''', OVERFLOW),
    _wrong("softmax", "global max, sum along dim", '''
def softmax(z, dim=-1):
    shifted = z - z.max()
    e = shifted.exp()
    return e / e.sum(dim=dim, keepdim=True)
''', OVERFLOW),
    _wrong("softmax", "always the last axis, numpy-ish", '''
def softmax(z, dim=-1):
    m = torch.max(z, axis=-1, keepdims=True)[0]
    e = torch.exp(z - m)
    return e / torch.sum(e, axis=-1, keepdims=True)
''', "along the `dim` argument"),
    # softmax_cross_entropy ------------------------------------------------------
    _wrong("softmax_cross_entropy", "no max, loop", '''
def softmax_cross_entropy(scores, y):
    N = scores.shape[0]
    loss = 0.0
    dscores = torch.zeros_like(scores)
    for i in range(N):
        e = torch.exp(scores[i])
        p = e / e.sum()
        loss = loss - torch.log(p[y[i]])
        dscores[i] = p
        dscores[i, y[i]] -= 1
    return loss / N, dscores / N
''', ROW_MAX),
    _wrong("softmax_cross_entropy", "no max, one-hot", '''
def softmax_cross_entropy(scores, y):
    N, C = scores.shape
    onehot = torch.eye(C, dtype=scores.dtype)[y]
    probs = scores.exp() / scores.exp().sum(1, keepdim=True)
    return -(onehot * probs.log()).sum() / N, (probs - onehot) / N
''', ROW_MAX),
    _wrong("softmax_cross_entropy", "no max, naive logsumexp loss", '''
def softmax_cross_entropy(scores, y):
    N = len(y)
    idx = torch.arange(N)
    lse = torch.log(torch.exp(scores).sum(dim=1))
    loss = (lse - scores[idx, y]).mean()
    grad = torch.exp(scores) / torch.exp(scores).sum(dim=1, keepdim=True)
    grad[idx, y] -= 1
    return loss, grad / N
''', ROW_MAX),
    _wrong("softmax_cross_entropy", "log of softmax, gather", '''
def softmax_cross_entropy(scores, y):
    N = scores.shape[0]
    shifted = scores - scores.max(dim=1, keepdim=True).values
    probs = torch.exp(shifted) / torch.exp(shifted).sum(dim=1, keepdim=True)
    loss = -torch.log(probs.gather(1, y.view(-1, 1))).mean()
    dscores = probs.clone()
    dscores[torch.arange(N), y] -= 1
    return loss, dscores / N
''', LOG_SUM_EXP),
    _wrong("softmax_cross_entropy", "log of softmax, loop", '''
def softmax_cross_entropy(scores, y):
    N = scores.shape[0]
    loss = 0
    grad = torch.zeros_like(scores)
    for i in range(N):
        row = scores[i] - scores[i].max()
        p = row.exp() / row.exp().sum()
        loss += -torch.log(p[y[i]])
        grad[i] = p
        grad[i, y[i]] -= 1
    return loss / N, grad / N
''', LOG_SUM_EXP),
    _wrong("softmax_cross_entropy", "log of softmax, one-hot", '''
def stable_softmax(s):
    e = torch.exp(s - s.max(dim=1, keepdim=True)[0])
    return e / e.sum(dim=1, keepdim=True)

def softmax_cross_entropy(scores, y):
    N, C = scores.shape
    Y = torch.nn.functional.one_hot(y, C).to(scores.dtype)
    P = stable_softmax(scores)
    return -(Y * torch.log(P)).sum(dim=1).mean(), (P - Y) / N
''', LOG_SUM_EXP),
    _wrong("softmax_cross_entropy", "summed, and log of softmax", '''
def _softmax(s):
    e = (s - s.amax(1, keepdim=True)).exp()
    return e / e.sum(1, keepdim=True)

def softmax_cross_entropy(scores, y):
    p = _softmax(scores)
    idx = torch.arange(len(y))
    loss = -torch.log(p[idx, y]).sum()
    dscores = p.clone()
    dscores[idx, y] -= 1
    return loss, dscores
''', ("summed the loss", LOG_SUM_EXP)),
    _wrong("softmax_cross_entropy", "gradient not averaged", '''
def softmax_cross_entropy(scores, y):
    N = scores.shape[0]
    logp = scores - torch.logsumexp(scores, 1, keepdim=True)
    loss = -logp[range(N), y].mean()
    g = logp.exp()
    g[range(N), y] -= 1
    return loss, g
''', "divide the gradient by N"),
    _wrong("softmax_cross_entropy", "gradient without the correct class", '''
def softmax_cross_entropy(scores, y):
    N = scores.shape[0]
    logp = scores - scores.logsumexp(dim=1, keepdim=True)
    loss = -logp[torch.arange(N), y].sum() / N
    return loss, logp.exp() / N
''', "correct-class term is missing"),
    _wrong("softmax_cross_entropy", "gradient sign flipped", '''
def softmax_cross_entropy(scores, y):
    N, C = scores.shape
    onehot = torch.zeros(N, C, dtype=scores.dtype)
    onehot[torch.arange(N), y] = 1.0
    logp = scores - torch.logsumexp(scores, dim=1, keepdim=True)
    return -(onehot * logp).sum() / N, (onehot - logp.exp()) / N
''', "not the other way round"),
    _wrong("softmax_cross_entropy", "gradient divided twice", '''
def softmax_cross_entropy(scores, y):
    N = scores.shape[0]
    logp = scores - torch.logsumexp(scores, dim=1, keepdim=True)
    dscores = logp.exp()
    dscores[torch.arange(N), y] -= 1
    dscores /= N
    return -logp[torch.arange(N), y].mean(), dscores / N
''', "divided it twice"),
    # multiclass_hinge_loss --------------------------------------------------------
    _wrong("multiclass_hinge_loss", "gradient only at the correct class", '''
def multiclass_hinge_loss(scores, y, margin=1.0):
    N = scores.shape[0]
    idx = torch.arange(N)
    margins = torch.clamp(scores - scores[idx, y].reshape(-1, 1) + margin, min=0)
    margins[idx, y] = 0
    dscores = torch.zeros_like(scores)
    dscores[idx, y] = -(margins > 0).sum(dim=1).to(scores.dtype)
    return margins.sum() / N, dscores / N
''', "you wrote only the correct-class entry"),
    _wrong("multiclass_hinge_loss", "gradient only at the correct class, loop", '''
def multiclass_hinge_loss(scores, y, margin=1.0):
    N, C = scores.shape
    loss = 0.0
    dscores = torch.zeros_like(scores)
    for i in range(N):
        for j in range(C):
            if j == y[i]:
                continue
            m = scores[i, j] - scores[i, y[i]] + margin
            if m > 0:
                loss += m
                dscores[i, y[i]] -= 1
    return loss / N, dscores / N
''', "you wrote only the correct-class entry"),
    _wrong("multiclass_hinge_loss", "correct class counted, vectorised rows", '''
def multiclass_hinge_loss(scores, y, margin=1.0):
    N = scores.shape[0]
    total = 0
    grad = torch.zeros_like(scores)
    for i in range(N):
        m = (scores[i] - scores[i, y[i]] + margin).clamp(min=0)
        total = total + m.sum()
        active = (m > 0).to(scores.dtype)
        active[y[i]] = 0
        grad[i] = active
        grad[i, y[i]] = -active.sum()
    return total / N, grad / N
''', "skip j = y_i"),
    _wrong("multiclass_hinge_loss", "summed over the batch", '''
def multiclass_hinge_loss(scores, y, margin=1.0):
    rows = torch.arange(scores.shape[0])
    diff = scores - scores[rows, y][:, None] + margin
    diff[rows, y] = 0
    hinge = torch.where(diff > 0, diff, torch.zeros_like(diff))
    mask = (hinge > 0).to(scores.dtype)
    mask[rows, y] = -mask.sum(dim=1)
    return hinge.sum(), mask
''', "summed the loss"),
    _wrong("multiclass_hinge_loss", "gradient not averaged", '''
def multiclass_hinge_loss(scores, y, margin=1.0):
    N = scores.shape[0]
    rows = torch.arange(N)
    m = (scores - scores[rows, y].unsqueeze(1) + margin).clamp(min=0)
    m[rows, y] = 0
    d = (m > 0).to(scores.dtype)
    d[rows, y] = -d.sum(1)
    return m.sum() / N, d
''', "divide the gradient by N"),
    _wrong("multiclass_hinge_loss", "margin fixed at 1, loop", '''
def multiclass_hinge_loss(scores, y, margin=1.0):
    N, C = scores.shape
    loss = 0.0
    d = torch.zeros_like(scores)
    for i in range(N):
        for j in range(C):
            if j != y[i] and scores[i, j] - scores[i, y[i]] + 1 > 0:
                loss += scores[i, j] - scores[i, y[i]] + 1
                d[i, j] += 1
                d[i, y[i]] -= 1
    return loss / N, d / N
''', "margin"),
    # perceptron_forward, delta_rule_update, logistic_regression_step ----------------
    _wrong("perceptron_forward", "heaviside is 1 at 0", '''
def perceptron_forward(x, w, b, activation="sigmoid"):
    z = x @ w + b
    if activation == "sigmoid":
        return 1 / (1 + torch.exp(-z))
    if activation == "tanh":
        return torch.tanh(z)
    if activation == "relu":
        return torch.clamp(z, min=0)
    if activation == "step":
        return torch.heaviside(z, torch.ones_like(z))
    raise ValueError("unknown activation " + activation)
''', "at z = 0 it is 0"),
    _wrong("perceptron_forward", "no bias, class", '''
class Perceptron:
    acts = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
            "step": lambda z: (z > 0).to(z.dtype)}

    def __init__(self, w, b):
        self.w, self.b = w, b

    def __call__(self, x, activation):
        if activation not in self.acts:
            raise ValueError(activation)
        return self.acts[activation](torch.matmul(x, self.w))

def perceptron_forward(x, w, b, activation="sigmoid"):
    return Perceptron(w, b)(x, activation)
''', "add the bias"),
    _wrong("delta_rule_update", "returns the step only", '''
def delta_rule_update(w, x, target, lr):
    prediction = torch.dot(w, x)
    return lr * (target - prediction) * x
''', "not only the step"),
    _wrong("delta_rule_update", "error reversed", '''
def delta_rule_update(w, x, target, lr):
    y_hat = (w * x).sum()
    error = y_hat - target
    return w + lr * error * x
''', "target - prediction"),
    _wrong("logistic_regression_step", "loss after the update", '''
def bce(p, y):
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()

def logistic_regression_step(w, b, X, y, lr):
    N = X.shape[0]
    p = torch.sigmoid(X @ w + b)
    w = w - lr * X.T @ (p - y) / N
    b = b - lr * (p - y).mean()
    return w, b, bce(torch.sigmoid(X @ w + b), y)
''', "before the update"),
    _wrong("logistic_regression_step", "gradient summed, loop", '''
def logistic_regression_step(w, b, X, y, lr):
    dw = torch.zeros_like(w)
    db = 0.0
    loss = 0.0
    for xi, yi in zip(X, y):
        p = torch.sigmoid(xi @ w + b)
        loss += -(yi * torch.log(p) + (1 - yi) * torch.log(1 - p))
        dw += (p - yi) * xi
        db += p - yi
    return w - lr * dw, b - lr * db, loss / X.shape[0]
''', "divide by N"),
    _wrong("logistic_regression_step", "bias left alone", '''
def logistic_regression_step(w, b, X, y, lr):
    z = X @ w + b
    loss = torch.mean(torch.log1p(torch.exp(-z)) * y + torch.log1p(torch.exp(z)) * (1 - y))
    grad = X.T @ (torch.sigmoid(z) - y) / len(y)
    return w - lr * grad, b, loss
''', "update the bias"),
    # two bugs at once, and bugs the catalogue does not name ---------------------------
    _wrong("softmax_cross_entropy", "summed loss, averaged gradient", '''
def softmax_cross_entropy(scores, y):
    N = scores.shape[0]
    logp = scores - torch.logsumexp(scores, dim=1, keepdim=True)
    g = logp.exp()
    g[torch.arange(N), y] -= 1
    return -logp[torch.arange(N), y].sum(), g / N
''', "summed the loss"),
    _wrong("softmax_cross_entropy", "summed loss, gradient without the correct class", '''
def softmax_cross_entropy(scores, y):
    N = scores.shape[0]
    logp = scores - torch.logsumexp(scores, dim=1, keepdim=True)
    return -logp[torch.arange(N), y].sum(), logp.exp() / N
''', ("summed the loss", "correct-class term is missing")),
    _wrong("multiclass_hinge_loss", "gradient only at the correct class and not averaged", '''
def multiclass_hinge_loss(scores, y, margin=1.0):
    N = scores.shape[0]
    idx = torch.arange(N)
    margins = torch.clamp(scores - scores[idx, y].reshape(-1, 1) + margin, min=0)
    margins[idx, y] = 0
    dscores = torch.zeros_like(scores)
    dscores[idx, y] = -(margins > 0).sum(dim=1).to(scores.dtype)
    return margins.sum() / N, dscores
''', "you wrote only the correct-class entry"),   # a batch of one shows the first bug alone
    _wrong("logistic_regression_step", "loss after the update, gradient summed", '''
def logistic_regression_step(w, b, X, y, lr):
    p = torch.sigmoid(X @ w + b)
    w = w - lr * X.T @ (p - y)
    b = b - lr * (p - y).sum()
    q = torch.sigmoid(X @ w + b)
    return w, b, -(y * torch.log(q) + (1 - y) * torch.log(1 - q)).mean()
''', ("divide by N", "before the update")),   # a batch of one shows the second bug alone
    _wrong("softmax", "returns log-probabilities", '''
def softmax(z, dim=-1):
    return z - torch.logsumexp(z, dim=dim, keepdim=True)
''', None),
    _wrong("perceptron_forward", "step from the sign", '''
def perceptron_forward(x, w, b, activation="sigmoid"):
    z = x @ w + b
    table = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
             "step": lambda t: (torch.sign(t) + 1) / 2}
    if activation not in table:
        raise ValueError(activation)
    return table[activation](z)
''', None),
    # least_squares ------------------------------------------------------------
    _wrong("least_squares", "ones column penalised with the rest", '''
def least_squares(X, y, l2=0.0):
    Xb = torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype)], dim=1)
    A = Xb.T @ Xb + l2 * torch.eye(Xb.shape[1], dtype=X.dtype)
    theta = torch.linalg.solve(A, Xb.T @ y)
    return theta[:-1], theta[-1]
''', "leave the bias out of the penalty"),
    _wrong("least_squares", "inverse of the mean-loss system", '''
def least_squares(X, y, l2=0.0):
    N, D = X.shape
    mx, my = X.mean(dim=0), y.mean()
    Xc = X - mx
    w = torch.inverse(Xc.T @ Xc / N + l2 * torch.eye(D, dtype=X.dtype)) @ (Xc.T @ (y - my)) / N
    return w, my - mx @ w
''', "do not scale l2 by N"),
    _wrong("least_squares", "no intercept at all", '''
def least_squares(X, y, l2=0.0):
    D = X.shape[1]
    w = torch.linalg.solve(X.T @ X + l2 * torch.eye(D, dtype=X.dtype), X.T @ y)
    return w, torch.zeros((), dtype=X.dtype)
''', "fit the bias too"),
    # squared_hinge_loss -------------------------------------------------------
    _wrong("squared_hinge_loss", "loop, gradient without the 2", '''
def squared_hinge_loss(scores, y, margin=1.0):
    N, C = scores.shape
    loss = 0.0
    d = torch.zeros_like(scores)
    for i in range(N):
        for j in range(C):
            if j == y[i]:
                continue
            m = scores[i, j] - scores[i, y[i]] + margin
            if m > 0:
                loss = loss + m ** 2
                d[i, j] += m
                d[i, y[i]] -= m
    return loss / N, d / N
''', "factor 2"),
    _wrong("squared_hinge_loss", "plain hinge by mistake", '''
def squared_hinge_loss(scores, y, margin=1.0):
    N = scores.shape[0]
    idx = torch.arange(N)
    m = torch.relu(scores - scores[idx, y].unsqueeze(1) + margin)
    m[idx, y] = 0
    g = (m > 0).to(scores.dtype)
    g[idx, y] = -g.sum(1)
    return m.sum() / N, g / N
''', "square each margin"),
    # Autoencoder ---------------------------------------------------------------
    _wrong("Autoencoder", "sequential encoder, no nonlinearity", '''
class Autoencoder(nn.Module):
    def __init__(self, d_in, d_code):
        super().__init__()
        self.encoder = nn.Linear(d_in, d_code)
        self.decoder = nn.Linear(d_code, d_in)

    def forward(self, x):
        code = self.encoder(x)
        return self.decoder(code)
''', "without it the model is linear"),
    _wrong("Autoencoder", "tanh code", '''
class Autoencoder(nn.Module):
    def __init__(self, d_in, d_code):
        super().__init__()
        self.encoder = nn.Linear(d_in, d_code)
        self.decoder = nn.Linear(d_code, d_in)
        self.act = nn.Tanh()

    def forward(self, x):
        return self.decoder(self.act(self.encoder(x)))
''', "not tanh"),
    # reconstruction_scores -----------------------------------------------------
    _wrong("reconstruction_scores", "squared norm per row", '''
def reconstruction_scores(model, x):
    with torch.no_grad():
        return torch.linalg.vector_norm(model(x) - x, dim=1) ** 2
''', "not the sum"),
    _wrong("reconstruction_scores", "root of the mean", '''
def reconstruction_scores(model, x):
    with torch.no_grad():
        err = model(x) - x
    return torch.sqrt((err * err).mean(axis=1))
''', "square root"),
]

CORRECT = [
    _right("least_squares", "lstsq on the augmented system", '''
def least_squares(X, y, l2=0.0):
    N, D = X.shape
    A = torch.cat([X, torch.ones(N, 1, dtype=X.dtype)], dim=1)
    rhs = y
    if l2 > 0:
        extra = torch.cat([math.sqrt(l2) * torch.eye(D, dtype=X.dtype), torch.zeros(D, 1, dtype=X.dtype)], dim=1)
        A, rhs = torch.cat([A, extra]), torch.cat([y, torch.zeros(D, dtype=X.dtype)])
    theta = torch.linalg.lstsq(A, rhs[:, None]).solution[:, 0]
    return theta[:D], theta[D]
'''),
    _right("squared_hinge_loss", "one-hot mask", '''
def squared_hinge_loss(scores, y, margin=1.0):
    N, C = scores.shape
    onehot = torch.nn.functional.one_hot(y, C).to(scores.dtype)
    correct = (scores * onehot).sum(dim=1, keepdim=True)
    m = torch.clamp(scores - correct + margin, min=0) * (1 - onehot)
    g = 2 * m - onehot * (2 * m).sum(dim=1, keepdim=True)
    return (m * m).sum() / N, g / N
'''),
    _right("Autoencoder", "relu module between", '''
class Autoencoder(nn.Module):
    def __init__(self, d_in, d_code):
        super().__init__()
        self.encoder = nn.Linear(d_in, d_code)
        self.relu = nn.ReLU()
        self.decoder = nn.Linear(d_code, d_in)

    def forward(self, x):
        h = self.relu(self.encoder(x))
        return self.decoder(h)
'''),
    _right("reconstruction_scores", "mse_loss without reduction", '''
def reconstruction_scores(model, x):
    with torch.no_grad():
        return torch.nn.functional.mse_loss(model(x), x, reduction="none").mean(dim=1)
'''),

    _right("softmax", "logsumexp method", '''
def softmax(z, dim=-1):
    return (z - z.logsumexp(dim, keepdim=True)).exp()
'''),
    _right("softmax", "loop over rows with the max", '''
def softmax(z, dim=-1):
    moved = z.movedim(dim, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    rows = []
    for row in flat:
        e = torch.exp(row - row.max())
        rows.append(e / e.sum())
    return torch.stack(rows).reshape(moved.shape).movedim(-1, dim)
'''),
    _right("softmax", "max()[0] and reciprocal", '''
def softmax(z, dim=-1):
    e = torch.exp(z - torch.max(z, dim=dim, keepdim=True)[0])
    return e * torch.reciprocal(e.sum(dim=dim, keepdim=True))
'''),
    _right("softmax_cross_entropy", "gather and one-hot by scatter", '''
def softmax_cross_entropy(scores, y):
    N = scores.shape[0]
    log_probs = scores - torch.logsumexp(scores, dim=1, keepdim=True)
    loss = -log_probs.gather(1, y[:, None]).mean()
    onehot = torch.zeros_like(scores).scatter_(1, y[:, None], 1.0)
    return loss, (log_probs.exp() - onehot) / N
'''),
    _right("softmax_cross_entropy", "loop with a log-sum-exp per row", '''
def softmax_cross_entropy(scores, y):
    N = scores.shape[0]
    loss = scores.new_zeros(())
    dscores = torch.empty_like(scores)
    for i in range(N):
        m = scores[i].max()
        lse = m + torch.log(torch.exp(scores[i] - m).sum())
        loss = loss + lse - scores[i, y[i]]
        dscores[i] = torch.exp(scores[i] - lse)
        dscores[i, y[i]] -= 1
    return loss / N, dscores / N
'''),
    _right("multiclass_hinge_loss", "torch.where and counts", '''
def multiclass_hinge_loss(scores, y, margin=1.0):
    N, C = scores.shape
    is_y = torch.arange(C)[None, :] == y[:, None]
    m = scores - scores[is_y][:, None] + margin
    m = torch.where(is_y | (m < 0), torch.zeros_like(m), m)
    active = (m > 0).to(scores.dtype)
    d = active - is_y.to(scores.dtype) * active.sum(dim=1, keepdim=True)
    return m.sum() / N, d / N
'''),
    _right("perceptron_forward", "if-chain and w @ x.T", '''
def perceptron_forward(x, w, b, activation="sigmoid"):
    z = (x * w).sum(dim=-1) + b
    if activation == "sigmoid":
        return torch.sigmoid(z)
    elif activation == "tanh":
        return torch.tanh(z)
    elif activation == "relu":
        return torch.where(z > 0, z, torch.zeros_like(z))
    elif activation == "step":
        return torch.where(z > 0, torch.ones_like(z), torch.zeros_like(z))
    raise ValueError(f"no activation called {activation}")
'''),
    _right("delta_rule_update", "prediction minus target", '''
def delta_rule_update(w, x, target, lr):
    return w - lr * (torch.dot(w, x) - target) * x
'''),
    _right("logistic_regression_step", "y - p and a plus sign", '''
def logistic_regression_step(w, b, X, y, lr):
    z = X @ w + b
    loss = torch.nn.functional.softplus(z).mean() - (y * z).mean()
    err = y - torch.sigmoid(z)
    return w + lr * (X.T @ err) / len(y), b + lr * err.mean(), loss
'''),
]
