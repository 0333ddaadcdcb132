"""Constructs the scan cannot see through: code built at run time, computed look-ups, internals.

Each is a finding of its own for an exercise that forbids shortcuts, because a
shortcut could hide behind it. A `Route` says how the student's message
names it and why the grader refuses it. `anywhere` routes count in any code
that can run (at load, or from a check); the others, look-ups that only read,
count in the code an exercise reaches.
"""
from __future__ import annotations

from dataclasses import dataclass

DYNAMIC = "the grader cannot follow code run that way"
LOOKUP = "the grader cannot tell what it looks up"
PATCH = "the grader cannot follow code that changes a library"
INTERNALS = "the grader cannot follow code that reaches into Python's or torch's internals"
GRADER = "a submission may not use the grader's own code"
UNREADABLE = "the grader cannot read it"


@dataclass(frozen=True)
class Route:
    """How one construct is named to the student, and why it is refused."""

    label: str  # "uses `exec`", "changes `torch.exp`"
    reason: str
    anywhere: bool = True


# builtins that run code, reach namespaces, or write attributes by name
BUILTINS = {
    "exec": DYNAMIC, "eval": DYNAMIC, "compile": DYNAMIC, "__import__": DYNAMIC, "breakpoint": DYNAMIC,
    "globals": INTERNALS, "vars": INTERNALS, "locals": INTERNALS, "__build_class__": INTERNALS,
    "__builtins__": INTERNALS, "__loader__": INTERNALS, "__spec__": INTERNALS,
}
# bare names that reach the interpreter whatever they are bound to
NAMES = {"__builtins__", "__import__", "__loader__", "__spec__"}
# whole modules
MODULES = {
    **dict.fromkeys(("importlib", "runpy", "imp", "pkgutil", "zipimport", "pydoc", "code", "codeop", "pdb", "bdb",
                     "doctest", "pickle", "_pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle",
                     "copyreg", "joblib"), DYNAMIC),
    **dict.fromkeys(("gc", "inspect", "ctypes", "cffi", "_ctypes", "_thread", "__main__"), INTERNALS),
    **dict.fromkeys(("mock",), PATCH),
}
# single names of otherwise harmless modules
NAMED = {
    **dict.fromkeys(("sys.modules", "sys._getframe", "sys._current_frames", "sys.settrace", "sys.setprofile",
                     "sys.meta_path", "sys.path_hooks", "sys.path_importer_cache", "sys.addaudithook",
                     "threading.settrace", "threading.setprofile", "torch.ops", "torch.overrides", "torch.library",
                     "torch.utils.cpp_extension", "torch.classes", "torch.utils.hooks"), INTERNALS),
    "unittest.mock": PATCH,
    **dict.fromkeys(("types.FunctionType", "types.CodeType", "types.LambdaType", "types.ModuleType",
                     "types.MethodType", "torch.jit", "torch.compile", "torch.fx", "torch.export", "torch.package",
                     "torch.hub"), DYNAMIC),
}
LOOKUPS = {"operator.attrgetter", "operator.methodcaller"}
# attributes that reach a function's globals, code, frames or an object's namespace
ATTRIBUTES = {
    "__globals__", "__code__", "__closure__", "__subclasses__", "__builtins__", "__dict__", "__setattr__",
    "__delattr__", "__getattribute__", "__getattr__", "__torch_function__", "__torch_dispatch__", "__import__",
    "__loader__", "__spec__", "__defaults__", "__kwdefaults__", "tb_frame", "f_globals", "f_locals",
    "f_builtins", "f_back", "f_code", "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code",
    "co_code",
}
# defining these in a class intercepts torch calls
DEFINITIONS = {"__torch_function__", "__torch_dispatch__"}
# library settings that may be assigned (they change no function)
SETTINGS = ("torch.backends.", "matplotlib.", "pandas.options.")
GRADER_ALLOWED = {"grader", "grader.check"}  # a notebook's `from grader import check`


def qualified(qualname: str) -> Route | None:
    """The route a resolved dotted name ("torch._C", "sys.modules", "builtins.exec") is, if any."""
    parts = qualname.split(".")
    root = parts[0]
    if root in ("grader", "_grader_course"):
        return None if qualname in GRADER_ALLOWED else Route(f"uses `{qualname}`", GRADER)
    if qualname == "builtins":  # the module; "builtins.print" is just a builtin
        return Route("uses `builtins`", INTERNALS)
    if root == "builtins" and len(parts) == 2 and parts[1] in BUILTINS:
        return Route(f"uses `{parts[1]}`", BUILTINS[parts[1]])
    if root in MODULES:
        return Route(f"uses `{qualname}`", MODULES[root])
    for index in range(1, len(parts) + 1):
        prefix = ".".join(parts[:index])
        if prefix in NAMED:
            return Route(f"uses `{prefix}`", NAMED[prefix])
        if prefix in LOOKUPS:
            return Route(f"uses `{prefix}`", LOOKUP, anywhere=False)
        if root in ("torch", "functorch") and index > 1 and _private(parts[index - 1]):
            return Route(f"uses `{prefix}`", INTERNALS)
    return None


def attribute(name: str) -> Route | None:
    """The route reading or writing an attribute of this name is (`f.__globals__`), if any."""
    if name in ATTRIBUTES:
        return Route(f"uses `.{name}`", INTERNALS)
    return None


def assignment(qualname: str) -> Route | None:
    """The route assigning or deleting a library's attribute is (`torch.exp = ...`), unless it is a setting."""
    if qualname.startswith(SETTINGS) or qualname.startswith("@"):
        return None
    return Route(f"changes `{qualname}`", PATCH)


def _private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))
