"""Small hostile payloads that check the sandbox from the inside (tests, bench, setup check).

`serve(in_fd, out_fd)` is a stand-in for the worker: it reads one JSON request
({"case": name, **args}) until EOF, runs the case and writes one JSON answer.
Run `python -m grader.runner.sandbox.selftest` to print the report line and try them all.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time


def _err(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"


def case_ping(args: dict) -> dict:
    """Identity and open fds of the sandboxed process."""
    return {"uid": os.getuid(), "fds": sorted(int(f) for f in os.listdir("/proc/self/fd")),
            "cwd": os.getcwd(), "env": sorted(os.environ)}


def case_read(args: dict) -> dict:
    """Try to read a file."""
    try:
        with open(args["path"], "rb") as f:
            return {"ok": True, "data": f.read(64).decode("latin-1")}
    except OSError as exc:
        return {"ok": False, "error": _err(exc)}


def case_listdir(args: dict) -> dict:
    """Try to list a directory."""
    try:
        return {"ok": True, "entries": sorted(os.listdir(args["path"]))[:20]}
    except OSError as exc:
        return {"ok": False, "error": _err(exc)}


def case_write(args: dict) -> dict:
    """Try to create/append a file."""
    try:
        with open(args["path"], "a") as f:
            f.write("pwned\n")
        return {"ok": True}
    except OSError as exc:
        return {"ok": False, "error": _err(exc)}


def case_connect(args: dict) -> dict:
    """Try TCP to a loopback port, then a raw socket(2) through ctypes."""
    out = {}
    try:
        s = socket.create_connection(("127.0.0.1", args["port"]), timeout=2)
        s.sendall(b"pwned")
        s.close()
        out["tcp"] = "connected"
    except OSError as exc:
        out["tcp"] = _err(exc)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(41, socket.AF_INET, socket.SOCK_DGRAM, 0)   # x86_64 socket(2)
    out["raw_socket"] = "created" if fd >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
    return out


def case_exec(args: dict) -> dict:
    """Try to run a program."""
    try:
        subprocess.run(["/bin/true"], check=True)
        return {"ok": True}
    except OSError as exc:
        return {"ok": False, "error": _err(exc)}


def case_fork_bomb(args: dict) -> dict:
    """Fork many sleepers; report how many forks succeeded and failed."""
    ok = failed = 0
    for _ in range(args.get("n", 500)):
        try:
            pid = os.fork()
        except OSError:
            failed += 1
            continue
        if pid == 0:
            time.sleep(1000)
            os._exit(0)
        ok += 1
    return {"forked": ok, "failed": failed}


def case_memory_bomb(args: dict) -> dict:
    """Allocate (and touch) 32 MiB chunks until something stops us."""
    chunks = []
    try:
        for _ in range(args.get("max_chunks", 4096)):
            chunks.append(bytearray(32 << 20))
    except MemoryError:
        return {"stopped": "MemoryError", "mb": 32 * len(chunks)}
    return {"stopped": "never", "mb": 32 * len(chunks)}


def case_kill_parent(args: dict) -> dict:
    """SIGKILL the parent, then everything we may signal (kill -1)."""
    out = {}
    for name, target in (("ppid", os.getppid()), ("minus1", -1)):
        try:
            os.kill(target, signal.SIGKILL)
            out[name] = "sent"
        except OSError as exc:
            out[name] = _err(exc)
    return out


def case_daemon(args: dict) -> dict:
    """setsid + double fork; the daemon keeps the result pipe open and sleeps forever."""
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork():
            os._exit(0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        while True:
            time.sleep(1000)
    os.waitpid(pid, 0)
    return {"daemon": "started"}


def case_cpu_loop(args: dict) -> dict:
    """Spin forever, ignoring SIGXCPU."""
    signal.signal(signal.SIGXCPU, signal.SIG_IGN)
    while True:
        pass


def case_torch(args: dict) -> dict:
    """numpy and torch work inside the sandbox (also with 2 threads)."""
    import numpy as np
    import torch
    x = torch.ones(1, 1, 8, 8)
    y = torch.nn.functional.conv2d(x, torch.ones(1, 1, 3, 3))
    torch.set_num_threads(2)
    z = torch.ones(64, 64) @ torch.ones(64, 64)
    return {"conv": float(y.sum()), "matmul": float(z[0, 0]), "np": float(np.ones(3).sum())}


def case_fill_scratch(args: dict) -> dict:
    """Write 8 MiB files into scratch until an error."""
    written = 0
    try:
        for i in range(1000):
            with open(f"fill{i}", "wb") as f:
                f.write(b"x" * (8 << 20))
            written += 8
    except OSError as exc:
        return {"mb": written, "error": _err(exc)}
    return {"mb": written, "error": None}


def case_userns(args: dict) -> dict:
    """Try to make a new user namespace."""
    rc = ctypes.CDLL(None, use_errno=True).unshare(0x10000000)
    return {"rc": rc, "errno": errno.errorcode.get(ctypes.get_errno(), "?") if rc else None}


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def serve(in_fd: int, out_fd: int) -> None:
    """Read one JSON request until EOF, run the case, write the JSON answer."""
    data = b""
    while chunk := os.read(in_fd, 65536):
        data += chunk
    request = json.loads(data or b'{"case": "ping"}')
    answer = CASES[request["case"]](request)
    payload = json.dumps(answer).encode()
    while payload:
        payload = payload[os.write(out_fd, payload):]
    if request.get("linger"):
        time.sleep(1000)


def run(launcher, case: str, *, slot: int = 0, timeout: float = 20.0, **args) -> tuple[dict | None, object, str]:
    """Run one case through a launcher: (answer or None, ExitStatus, captured output)."""
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    output_r, output_w = os.pipe()
    handle = launcher.start(in_fd=to_child_r, out_fd=from_child_w, output_fd=output_w, slot=slot)
    for fd in (to_child_r, from_child_w, output_w):
        os.close(fd)
    os.write(to_child_w, json.dumps({"case": case, **args}).encode())
    os.close(to_child_w)
    status = handle.wait(timeout)
    if status is None:
        handle.kill()
        status = handle.wait(5)
    answer = _read_all(from_child_r)
    output = _read_all(output_r).decode(errors="replace")
    return (json.loads(answer) if answer else None), status, output


def _read_all(fd: int) -> bytes:
    data = b""
    os.set_blocking(fd, False)
    try:
        while chunk := os.read(fd, 65536):
            data += chunk
    except BlockingIOError:
        pass
    os.close(fd)
    return data


def main() -> None:
    """Print the report line of both launchers and run the harmless cases."""
    from .launcher import SubprocessLauncher
    from .policy import SandboxPolicy
    launcher = SubprocessLauncher(SandboxPolicy(cpu_seconds=5, memory_mb=1024),
                                  payload="grader.runner.sandbox.selftest:serve")
    print(launcher.report())
    for case, args in (("ping", {}), ("read", {"path": "/etc/shadow"}), ("exec", {}),
                       ("connect", {"port": 9}), ("torch", {})):
        answer, status, output = run(launcher, case, **args)
        print(f"{case:8} {answer} {status} {output.strip()[:200]}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
