"""Unit 2 reference: a scalar autograd engine (after micrograd).

Every operation builds a new node that remembers its inputs and a small
function `_backward` that passes the node's gradient on to them by the chain
rule. `backward()` visits the nodes in reverse topological order, so a node's
gradient is complete before it is passed on, and `+=` lets a node that feeds
several others collect a contribution from each.
"""
import math


class Value:
    """A scalar with its gradient; operations on Values record the graph."""

    def __init__(self, data, _children=(), _op=""):
        self.data = float(data)
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    # z = x + y: dz/dx = 1, dz/dy = 1
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    # z = x * y: dz/dx = y, dz/dy = x
    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    # z = x ** n for a number n: dz/dx = n * x ** (n - 1)
    def __pow__(self, n):
        assert isinstance(n, (int, float)), "only a number exponent is supported"
        out = Value(self.data ** n, (self,), f"**{n}")

        def _backward():
            self.grad += n * self.data ** (n - 1) * out.grad
        out._backward = _backward
        return out

    # z = exp(x): dz/dx = exp(x) = z
    def exp(self):
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    # z = tanh(x): dz/dx = 1 - z ** 2
    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t ** 2) * out.grad
        out._backward = _backward
        return out

    # z = max(0, x): dz/dx = 1 where x > 0, else 0
    def relu(self):
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward():
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad
        out._backward = _backward
        return out

    def backward(self):
        """Fill .grad of every node this one depends on with d self / d node."""
        order, seen = [], set()

        def visit(node):
            if node not in seen:
                seen.add(node)
                for child in node._prev:
                    visit(child)
                order.append(node)
        visit(self)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()

    # The rest is written with the operations above.
    def __neg__(self):           # -x
        return self * -1

    def __sub__(self, other):    # x - y
        return self + (-other)

    def __truediv__(self, other):  # x / y = x * y ** -1
        return self * other ** -1

    def __radd__(self, other):   # number + x
        return self + other

    def __rsub__(self, other):   # number - x
        return other + (-self)

    def __rmul__(self, other):   # number * x
        return self * other

    def __rtruediv__(self, other):  # number / x
        return other * self ** -1

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"
