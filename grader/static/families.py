"""Families of library shortcuts: every spelling of one forbidden operation.

An exercise's `forbidden=` lists family names ("softmax", "autograd") and,
where one function is meant, dotted names ("torch.addmm"). A family matches:

* its dotted members, and everything under a member ("torch.optim" covers
  "torch.optim.adam.adam");
* any attribute, of torch or of another library the student imported, whose
  own name matches the family's pattern once lower-cased and stripped of
  underscores ("torch.ops.aten._softmax", "torch.nn.LogSoftmax",
  "scipy.special.softmax");
* Tensor method names, for `z.softmax(-1)` on a receiver the scan cannot
  resolve.

The members are also what the worker's run-time watch resolves in the torch
it runs (see grader/runner/forbid.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable


@dataclass(frozen=True)
class Family:
    """One forbidden operation and every name that reaches it."""

    name: str
    members: tuple[str, ...]
    pattern: str = ""  # searched in a normalised attribute name: lower case, no underscores
    methods: tuple[str, ...] = ()  # Tensor methods, caught on receivers the scan cannot resolve
    allowed: tuple[str, ...] = ()  # dotted names the pattern would catch that stay allowed

    def matches(self, qualname: str) -> bool:
        """Whether a resolved dotted name ("torch.nn.functional.softmax") belongs to this family."""
        if qualname in self.allowed:
            return False
        for member in self.members:
            if qualname == member or qualname.startswith(member + "."):
                return True
        root, _, _ = qualname.partition(".")
        if not self.pattern or root in ("builtins", "") or "." not in qualname:
            return False
        return self.matches_identifier(qualname.rsplit(".", 1)[1])

    def matches_identifier(self, name: str) -> bool:
        """Whether a bare attribute name ("_log_softmax", "LogSoftmax") is a spelling of this family."""
        if name in self.methods:
            return True
        if any(a.rsplit(".", 1)[1] == name for a in self.allowed):
            return False
        return bool(self.pattern) and re.search(self.pattern, normalise(name)) is not None


def normalise(name: str) -> str:
    """'_log_softmax' and 'LogSoftmax' both become 'logsoftmax'."""
    return name.replace("_", "").lower()


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("softmax", (
        "torch.softmax", "torch.log_softmax", "torch._softmax", "torch._log_softmax", "torch._safe_softmax",
        "torch.special.softmax", "torch.special.log_softmax", "torch.sparse.softmax", "torch.sparse.log_softmax",
        "torch.nn.functional.softmax", "torch.nn.functional.log_softmax", "torch.nn.functional.softmin",
        "torch.nn.functional.gumbel_softmax", "torch.Tensor.softmax", "torch.Tensor.log_softmax",
        "torch.nn.Softmax", "torch.nn.LogSoftmax", "torch.nn.Softmin", "torch.nn.Softmax2d",
    ), pattern=r"soft(max|min)", methods=("softmax", "log_softmax")),
    Family("cross_entropy", (
        "torch.nn.functional.cross_entropy", "torch.nn.functional.nll_loss", "torch.nn.functional.binary_cross_entropy",
        "torch.nn.functional.binary_cross_entropy_with_logits", "torch.nn.functional.gaussian_nll_loss",
        "torch.nn.functional.poisson_nll_loss", "torch.binary_cross_entropy_with_logits", "torch.poisson_nll_loss",
        "torch._C._nn.cross_entropy_loss", "torch._C._nn.nll_loss", "torch._C._nn.nll_loss2d",
        "torch._C._nn.nll_loss_nd", "torch._C._nn.binary_cross_entropy", "torch.nn.CrossEntropyLoss", "torch.nn.NLLLoss",
    ), pattern=r"crossentropy|nllloss|^nll"),
    Family("margin_loss", (
        "torch.nn.functional.multi_margin_loss", "torch.nn.functional.multilabel_margin_loss",
        "torch.nn.functional.soft_margin_loss", "torch.nn.functional.margin_ranking_loss",
        "torch.nn.functional.hinge_embedding_loss", "torch.nn.functional.multilabel_soft_margin_loss",
        "torch.nn.functional.triplet_margin_loss", "torch.hinge_embedding_loss", "torch.margin_ranking_loss",
        "torch.triplet_margin_loss", "torch._C._nn.multi_margin_loss", "torch._C._nn.multilabel_margin_loss",
        "torch._C._nn.soft_margin_loss", "torch.nn.MultiMarginLoss",
    ), pattern=r"margin|hinge"),
    Family("linear", (
        "torch.nn.functional.linear", "torch.nn.functional.bilinear", "torch._C._nn.linear", "torch.bilinear",
        "torch.addmm", "torch.addmv", "torch.addbmm", "torch.baddbmm", "torch._addmm_activation",
        "torch.Tensor.addmm", "torch.Tensor.addmm_", "torch.Tensor.addmv", "torch.Tensor.addbmm",
        "torch.Tensor.baddbmm", "torch.nn.Linear", "torch.nn.LazyLinear",
    ), pattern=r"^(lazy)?linear$|^bilinear$|addmm|addmv|addbmm|baddbmm",
        methods=("addmm", "addmm_", "addmv", "addmv_", "addbmm", "addbmm_", "baddbmm", "baddbmm_", "sspaddmm")),
    Family("autograd", (
        "torch.autograd", "torch.func", "functorch", "torch._functorch", "torch.Tensor.backward",
        "torch.Tensor.grad_fn", "torch.autograd.grad", "torch.autograd.backward", "torch.autograd.functional.vjp",
        "torch.autograd.functional.jvp", "torch.autograd.functional.jacobian", "torch.autograd.functional.hessian",
        "torch.autograd.functional.hvp", "torch.autograd.functional.vhp", "torch.func.grad", "torch.func.vjp",
        "torch.func.jvp", "torch.func.jacrev", "torch.func.jacfwd", "torch.func.hessian",
        "torch.func.grad_and_value",
    ), pattern=r"autograd|^backward$", methods=("backward", "grad_fn")),
    Family("optimiser", (
        "torch.optim", "torch._fused_adam_", "torch._fused_adamw_", "torch._fused_sgd_", "torch._fused_adagrad_",
    ), pattern=r"^fused(adam|sgd|adagrad)|^(adam|adamw|adamax|nadam|radam|sgd|asgd|adagrad|adadelta|rmsprop|rprop"
                r"|lbfgs|sparseadam|adafactor)$"),
    Family("foreach", (
        "torch._foreach_norm", "torch._foreach_mul", "torch._foreach_mul_", "torch._foreach_div_",
        "torch._foreach_add_", "torch._foreach_sub_", "torch._foreach_addcmul_", "torch._foreach_addcdiv_",
        "torch._foreach_lerp_", "torch._foreach_sqrt", "torch._foreach_pow", "torch._foreach_maximum_",
        "torch._foreach_clamp_max_", "torch._foreach_clamp_min_",
    ), pattern=r"^foreach"),
    Family("clip_grad", (
        "torch.nn.utils.clip_grad", "torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_norm",
        "torch.nn.utils.clip_grad_value_", "torch.nn.utils.clip_grads_with_norm_", "torch.nn.utils.get_total_norm",
    ), pattern=r"clipgrad|totalnorm"),
    Family("dropout", (
        "torch.dropout", "torch.dropout_", "torch.native_dropout", "torch._fused_dropout", "torch.alpha_dropout",
        "torch.alpha_dropout_", "torch.feature_dropout", "torch.feature_dropout_", "torch.feature_alpha_dropout",
        "torch.nn.functional.dropout", "torch.nn.functional.dropout1d", "torch.nn.functional.dropout2d",
        "torch.nn.functional.dropout3d", "torch.nn.functional.alpha_dropout",
        "torch.nn.functional.feature_alpha_dropout", "torch.nn.Dropout", "torch.nn.Dropout1d", "torch.nn.Dropout2d",
        "torch.nn.AlphaDropout",
    ), pattern=r"dropout", methods=("dropout", "dropout_")),
    Family("normalization", (
        "torch.batch_norm", "torch.native_batch_norm", "torch._native_batch_norm_legit",
        "torch._native_batch_norm_legit_no_training", "torch._batch_norm_impl_index", "torch.batch_norm_elemt",
        "torch.layer_norm", "torch.native_layer_norm", "torch.group_norm", "torch.native_group_norm",
        "torch.instance_norm", "torch.rms_norm", "torch.nn.functional.batch_norm", "torch.nn.functional.layer_norm",
        "torch.nn.functional.instance_norm", "torch.nn.functional.group_norm", "torch.nn.functional.rms_norm",
        "torch.nn.functional.local_response_norm", "torch.nn.BatchNorm1d", "torch.nn.BatchNorm2d",
        "torch.nn.LayerNorm", "torch.nn.GroupNorm",
    ), pattern=r"(batch|layer|instance|group|rms|localresponse)norm"),
    Family("recurrent", (
        "torch.lstm_cell", "torch.gru_cell", "torch.rnn_tanh_cell", "torch.rnn_relu_cell",
        "torch.lstm", "torch.gru", "torch.rnn_tanh", "torch.rnn_relu", "torch.nn.LSTMCell", "torch.nn.GRUCell",
        "torch.nn.RNNCell", "torch.nn.LSTM", "torch.nn.GRU", "torch.nn.RNN", "torch._VF",
    ), pattern=r"lstm|gru|rnn"),
    Family("convolution", (
        "torch.conv1d", "torch.conv2d", "torch.conv3d", "torch.conv_transpose1d", "torch.conv_transpose2d",
        "torch.conv_tbc", "torch.convolution", "torch._convolution", "torch.mkldnn_convolution",
        "torch._C._nn.thnn_conv2d", "torch._C._nn.slow_conv3d", "torch.nn.functional.conv1d",
        "torch.nn.functional.conv2d", "torch.nn.functional.conv3d", "torch.nn.functional.conv_transpose1d",
        "torch.nn.functional.conv_transpose2d", "torch.nn.functional.conv_tbc", "torch.nn.Conv2d",
    ), pattern=r"conv(olution|transpose|tbc|\d|$)|convolve|correlate"),
    Family("windows", (
        "torch.nn.functional.unfold", "torch.nn.functional.fold", "torch._C._nn.im2col", "torch._C._nn.col2im",
        "torch.nn.Unfold", "torch.nn.Fold",
    ), pattern=r"^(un)?fold$|im2col|col2im", allowed=("torch.Tensor.unfold",)),
    Family("pooling", (
        "torch.max_pool1d", "torch.max_pool2d", "torch.max_pool3d", "torch.max_pool1d_with_indices",
        "torch.avg_pool1d", "torch.adaptive_max_pool1d", "torch.adaptive_avg_pool1d",
        "torch._C._nn.max_pool2d_with_indices", "torch._C._nn.adaptive_max_pool2d", "torch._C._nn.avg_pool2d",
        "torch._C._nn.fractional_max_pool2d", "torch.nn.functional.max_pool1d", "torch.nn.functional.max_pool2d",
        "torch.nn.functional.max_pool3d", "torch.nn.functional.max_pool2d_with_indices",
        "torch.nn.functional.adaptive_max_pool2d", "torch.nn.functional.adaptive_avg_pool2d",
        "torch.nn.functional.avg_pool2d", "torch.nn.functional.lp_pool2d", "torch.nn.functional.fractional_max_pool2d",
        "torch.nn.MaxPool2d", "torch.nn.AvgPool2d", "torch.nn.AdaptiveMaxPool2d",
    ), pattern=r"pool"),
)}


def families(forbidden: Iterable[str]) -> list[Family]:
    """The families an exercise's `forbidden` names, in order; a dotted entry is a family of one."""
    return list(_families(tuple(forbidden)))


@lru_cache(maxsize=256)
def _families(forbidden: tuple[str, ...]) -> tuple[Family, ...]:
    found = []
    for entry in forbidden:
        if entry in FAMILIES:
            found.append(FAMILIES[entry])
        elif "." in entry:
            found.append(Family(entry, (entry,)))
        else:
            known = ", ".join(sorted(FAMILIES))
            raise ValueError(f"forbidden entry {entry!r} is neither a family ({known}) nor a dotted name")
    return tuple(found)


def forbids(name: str, forbidden: Iterable[str]) -> bool:
    """Whether a dotted name that the worker reported is forbidden by these entries."""
    return any(f.matches(name) for f in families(forbidden))
