"""What every driver needs: a context, tensor conversion, and the errors a check reports."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch

from ..runner.wire import Array

# Taken at import, before any student code runs, so later monkey-patching of
# torch does not change how the grader copies and compares inputs.
_equal = torch.equal
_clone = torch.Tensor.clone
_Tensor = torch.Tensor
_Parameter = torch.nn.Parameter
_TORCH_DTYPES = {
    "float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
    "float64": torch.float64, "int8": torch.int8, "int16": torch.int16, "int32": torch.int32,
    "int64": torch.int64, "uint8": torch.uint8, "bool": torch.bool,
}
MAX_NODES = 10_000


class CheckProblem(Exception):
    """A problem with the student's code that fails one check; kind names the stage."""

    kind = "error"


class MissingName(CheckProblem):
    kind = "missing"


class InputModified(CheckProblem):
    kind = "input_modified"


class BadOutput(CheckProblem):
    kind = "type"


class StudentError(CheckProblem):
    """The student's code raised; the worker fills in the traceback location."""

    kind = "raised"


@dataclass
class DriverContext:
    """Where tensors live during a check, and helpers drivers share."""

    device: str = "cpu"
    seed: int = 0

    def tensor(self, value: Any, requires_grad: bool = False) -> torch.Tensor:
        """Make a fresh torch tensor on the context's device from an Array or ndarray."""
        if isinstance(value, Array):
            data, dtype = value.data, value.dtype
        else:
            data = np.asarray(value)
            dtype = str(data.dtype)
        t = torch.from_numpy(np.array(data, copy=True)).to(self.device)
        if dtype in _TORCH_DTYPES and t.dtype != _TORCH_DTYPES[dtype]:
            t = t.to(_TORCH_DTYPES[dtype])
        return t.requires_grad_(requires_grad) if requires_grad else t

    def convert(self, value: Any) -> Any:
        """Turn every array in an input tree into a tensor on the device."""
        if isinstance(value, (Array, np.ndarray)):
            return self.tensor(value)
        if isinstance(value, list):
            return [self.convert(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.convert(v) for v in value)
        if isinstance(value, dict):
            return {k: self.convert(v) for k, v in value.items()}
        return value

    @staticmethod
    def lookup(ns: Mapping[str, Any], name: str) -> Any:
        """Return ns[name] or raise MissingName with a message a student can act on."""
        if name not in ns:
            raise MissingName(f"`{name}` is not defined in your notebooks or .py files")
        return ns[name]

    def seed_torch(self) -> None:
        """Seed torch's global generators (cheaply: torch.manual_seed would also initialise CUDA)."""
        torch.random.default_generator.manual_seed(self.seed)
        if self.device.startswith("cuda"):
            strict_cuda()
            torch.cuda.manual_seed_all(self.seed)

    def generator(self, seed: int | None = None) -> torch.Generator:
        """A seeded torch.Generator on the context's device."""
        gen = torch.Generator(device=self.device)
        gen.manual_seed(self.seed if seed is None else seed)
        return gen


def snapshot(values: list[Any]) -> list[Any]:
    """Copies of the tensors among values (None elsewhere), to detect in-place edits."""
    return [_clone(v).detach() if type(v) in (_Tensor, _Parameter) else None for v in values]


def modified(before: list[Any], after: list[Any], names: list[str]) -> list[str]:
    """Names of the tensors that changed since their snapshot."""
    changed = []
    for name, old, new in zip(names, before, after):
        if old is not None and (old.shape != new.shape or not _equal(old, new.detach())):
            changed.append(name)
    return changed


def to_plain(tree: Any) -> Any:
    """Convert an output tree to plain data (tensors become Arrays); reject other objects."""
    count = 0

    def visit(value: Any, path: str) -> Any:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise BadOutput(f"the result has more than {MAX_NODES} items")
        kind = type(value)
        if kind in (_Tensor, _Parameter):
            t = value.detach()
            if t.is_complex():
                raise BadOutput(f"{path} is a complex tensor; expected real values")
            dtype = str(t.dtype).removeprefix("torch.")
            device = t.device.type
            t = t.to("cpu")
            if t.dtype == torch.bfloat16:
                t = t.float()
            return Array(t.contiguous().numpy().copy(), dtype, device)
        if isinstance(value, _Tensor):
            raise BadOutput(f"{path} is a {kind.__name__} (a subclass of torch.Tensor); return a plain torch.Tensor")
        if value is None or kind in (bool, int, float, str):
            return value
        if isinstance(value, (np.generic,)):
            return value.item()
        if isinstance(value, np.ndarray):
            raise BadOutput(f"{path} is a numpy array; return a torch.Tensor")
        if kind is tuple:
            return tuple(visit(v, f"{path}[{i}]") for i, v in enumerate(value))
        if kind is list:
            return [visit(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if kind is dict:
            if not all(type(k) is str for k in value):
                raise BadOutput(f"{path} is a dict with non-string keys")
            return {k: visit(v, f"{path}[{k!r}]") for k, v in value.items()}
        raise BadOutput(f"{path} is a {kind.__name__}; expected a tensor, number, tuple, list or dict")

    return visit(tree, "the result")


def strict_cuda() -> None:
    """GPU runs as reproducible as torch allows: no TF32, deterministic algorithms (warn where torch has none).

    Called on both sides, the student's worker and the trusted references, before every seeded run on CUDA;
    `[tolerances.cuda]` in course.toml states what is left (summation order in float32 kernels).
    """
    import os

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")   # deterministic cuBLAS (read at its first use)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)
