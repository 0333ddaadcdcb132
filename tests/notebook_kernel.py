"""Drive a real IPython shell (or, where jupyter_client and ipykernel are installed, a real kernel).

Both run in a process of their own, cell by cell, so a test can run a check cell and
then look inside the kernel as a student's next cell could. `run(code)` returns the
cell's printed output, its result's repr and its error, if any.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SHELL_DRIVER = textwrap.dedent('''
    import contextlib, io, json, os, signal, sys
    from IPython.core.interactiveshell import InteractiveShell

    # as a Jupyter kernel does: Ctrl-C interrupts a cell, whatever the test runner left ignored or blocked
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    reply = os.fdopen(os.dup(1), "w")
    shell = InteractiveShell.instance()
    for line in sys.stdin:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            outcome = shell.run_cell(json.loads(line), store_history=True)
        error = outcome.error_before_exec or outcome.error_in_exec
        result = None if outcome.result is None else repr(outcome.result)
        reply.write(json.dumps({"stdout": out.getvalue(), "stderr": err.getvalue(), "result": result,
                                "error": None if error is None else f"{type(error).__name__}: {error}"}) + "\\n")
        reply.flush()
''')


class Shell:
    """An IPython InteractiveShell (what ipykernel runs cells in) in a child process."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SHELL_DRIVER], cwd=cwd, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def run(self, code: str, timeout: float = 300) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(code) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the shell died: {self.proc.stderr.read() if self.proc.stderr else ''}"
        return json.loads(line)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        """Kill the shell process at once (SIGKILL), as a crashed kernel."""
        self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Kernel:
    """A real ipykernel started and driven through jupyter_client, as Jupyter does."""

    def __init__(self, cwd: Path, env: dict[str, str], data_dir: Path) -> None:
        from jupyter_client.manager import start_new_kernel

        spec = data_dir / "kernels" / "grader-test"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "grader test", "language": "python"}))
        before = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = str(data_dir)  # where jupyter_client looks for the kernel spec
        try:
            self.manager, self.client = start_new_kernel(kernel_name="grader-test", cwd=str(cwd), env=env)
        finally:
            if before is None:
                del os.environ["JUPYTER_PATH"]
            else:
                os.environ["JUPYTER_PATH"] = before

    def run(self, code: str, timeout: float = 300) -> dict:
        msg_id = self.client.execute(code)
        reply = {"stdout": "", "stderr": "", "result": None, "error": None}
        while True:
            msg = self.client.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                reply[content["name"]] += content["text"]
            elif kind == "execute_result":
                reply["result"] = content["data"].get("text/plain")
                reply["html"] = content["data"].get("text/html")
            elif kind == "error":
                reply["error"] = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content["execution_state"] == "idle":
                return reply

    @property
    def pid(self) -> int:
        return self.manager.provisioner.process.pid

    def kill(self) -> None:
        """Kill the kernel process at once (SIGKILL), as a crashed kernel."""
        os.kill(self.pid, 9)
        self.manager.provisioner.process.wait()

    def close(self) -> None:
        self.client.stop_channels()
        if self.manager.is_alive():
            self.manager.shutdown_kernel(now=True)


def kernel_available() -> bool:
    """True when a real kernel can be started (jupyter_client and ipykernel installed)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("jupyter_client", "ipykernel"))


# A probe a later cell could run: every tensor and array the kernel can reach from its
# garbage collector, saved to an .npz for the test process to search, and every function
# whose code comes from a file under `solutions` or a `_grader_course` module.
PROBE = textwrap.dedent('''
    def _probe(path, solutions):
        import gc, sys, types
        import numpy
        torch = sys.modules.get("torch")
        arrays, functions, seen = [], [], set()

        def consider(obj):
            if id(obj) in seen:
                return
            seen.add(id(obj))
            if torch is not None and isinstance(obj, torch.Tensor):
                if obj.layout == torch.strided and obj.device.type != "meta" and 0 < obj.numel() <= 10**6:
                    arrays.append(obj.detach().cpu().resolve_conj().resolve_neg().numpy().copy())
            elif isinstance(obj, numpy.ndarray) and obj.dtype.kind in "fciub" and 0 < obj.size <= 10**6:
                arrays.append(numpy.array(obj))
            elif isinstance(obj, types.FunctionType):
                module = obj.__module__ or ""
                if module.startswith("_grader_course") or obj.__code__.co_filename.startswith(solutions):
                    functions.append(f"{module}.{obj.__qualname__}")

        for obj in gc.get_objects():
            consider(obj)
            for ref in gc.get_referents(obj):
                consider(ref)
        numpy.savez(path, *arrays)
        return sorted(set(functions))
''')
