"""Unit 2 reference: an affine layer, ReLU and a two-layer network with their backward passes.

Shapes: x (N, D), w (D, M), b (M,), scores (N, C). Each backward pass takes
the upstream gradient `dout` (the gradient of the loss with respect to the
layer's output) and returns the gradients with respect to the layer's inputs.
"""
import torch


def affine_forward(x, w, b):
    """out = x @ w + b: (N, D) @ (D, M) + (M,) -> (N, M)."""
    return x @ w + b


def affine_backward(dout, x, w, b):
    """Gradients of out = x @ w + b given dout (N, M): returns (dx, dw, db)."""
    dx = dout @ w.T                                # (N, D)
    dw = x.T @ dout                                # (D, M)
    db = dout.sum(dim=0)                           # (M,): b was added to every row
    return dx, dw, db


def relu_backward(dout, x):
    """ReLU passes the gradient where its input x was positive and blocks it elsewhere."""
    return dout * (x > 0).to(dout.dtype)


def mlp_loss_and_grads(X, y, params):
    """Mean softmax cross-entropy of a two-layer ReLU network, and its gradients.

    X (N, D), y (N,) class indices, params: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).
    """
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    N = X.shape[0]
    # forward
    z1 = affine_forward(X, W1, b1)                 # (N, H)
    h = z1.clamp(min=0)                            # (N, H)
    scores = affine_forward(h, W2, b2)             # (N, C)
    shifted = scores - scores.amax(dim=1, keepdim=True)
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    rows = torch.arange(N, device=X.device)
    loss = -log_probs[rows, y].mean()
    # backward
    dscores = log_probs.exp()                      # softmax, (N, C)
    dscores[rows, y] -= 1
    dscores = dscores / N
    dh, dW2, db2 = affine_backward(dscores, h, W2, b2)
    dz1 = relu_backward(dh, z1)
    _, dW1, db1 = affine_backward(dz1, X, W1, b1)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
