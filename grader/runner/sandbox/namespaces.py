"""Linux namespaces for one job: no network, private mounts with a tmpfs scratch, ipc, uts.

As root the child unshares the namespaces directly; otherwise it first makes a user
namespace that maps only its own uid. The mount namespace also lets a root zygote
re-expose an interpreter that lives under a 0700 directory (pyenv under /root) to the
unprivileged slot uid, without changing anything on the host: a tmpfs hides the 0700
directory and only the interpreter prefix is moved back into it (see docs/security.md).
"""
from __future__ import annotations

import ctypes
import os
import stat

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
_MS_NOSUID, _MS_NODEV, _MS_REC, _MS_PRIVATE = 0x2, 0x4, 0x4000, 0x40000
_SYS_OPEN_TREE, _SYS_MOVE_MOUNT = 428, 429
_OPEN_TREE_CLONE, _AT_RECURSIVE, _MOVE_MOUNT_F_EMPTY_PATH = 1, 0x8000, 0x4
SCRATCH = "/tmp"     # inside the job's mount namespace this is a fresh, size-capped tmpfs
# Where the scratch tmpfs may go instead, when the grader or its venv lives under /tmp
# (a CI clone, say): a tmpfs there would hide the code the worker must import.
SCRATCH_CANDIDATES = ("/tmp", "/var/tmp", "/dev/shm", "/mnt", "/media", "/srv")


def _check(rc: int, what: str) -> int:
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return rc


def unshare(flags: int) -> None:
    """unshare(2) (os.unshare only exists from Python 3.12)."""
    _check(_libc.unshare(ctypes.c_int(flags)), f"unshare({flags:#x})")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount({target})")


def enter_user_namespace(extra_flags: int) -> None:
    """Non-root: a new user namespace mapping only our uid/gid, plus extra_flags namespaces."""
    uid, gid = os.getuid(), os.getgid()
    unshare(CLONE_NEWUSER | extra_flags)
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


def private_mounts() -> None:
    """Stop mount events propagating back to the host."""
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)


def scratch_mountpoint(readable: tuple[str, ...] | list[str]) -> str:
    """The first candidate dir that holds none of the paths the job must read."""
    for candidate in SCRATCH_CANDIDATES:
        inside = any(os.path.realpath(p) == candidate or os.path.realpath(p).startswith(candidate + os.sep)
                     for p in readable)
        if os.path.isdir(candidate) and not os.path.islink(candidate) and not inside:
            return candidate
    raise OSError("no directory is free to mount the scratch tmpfs on")


def mount_scratch(size_mb: int, uid: int, gid: int, readable: tuple[str, ...] | list[str] = ()) -> str:
    """A size- and inode-capped tmpfs on a free scratch dir, owned by uid; returns its path."""
    where = scratch_mountpoint(readable)
    _mount("tmpfs", where, "tmpfs", _MS_NOSUID | _MS_NODEV,
           f"size={size_mb}m,nr_inodes=4096,mode=0700,uid={uid},gid={gid}")
    return where


def world_readable(path: str) -> bool:
    """Can a user with no relation to the owners read `path` (every ancestor o+x, path o+r)?"""
    parts = os.path.realpath(path).split(os.sep)
    current = "/"
    for part in parts[1:]:
        try:
            mode = os.stat(current).st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
        current = os.path.join(current, part)
    try:
        mode = os.stat(current).st_mode
    except OSError:
        return False
    return bool(mode & stat.S_IROTH) and (not stat.S_ISDIR(mode) or bool(mode & stat.S_IXOTH))


def blocking_ancestor(path: str) -> str | None:
    """The topmost ancestor of path that others cannot traverse, or None."""
    parts = os.path.realpath(path).split(os.sep)
    current = "/"
    for part in parts[1:-1]:
        current = os.path.join(current, part)
        try:
            if not os.stat(current).st_mode & stat.S_IXOTH:
                return current
        except OSError:
            return None
    return None


def hidden_paths(readable: tuple[str, ...]) -> dict[str, list[str]]:
    """Group readable paths that sit under a 0700-like directory by that directory."""
    groups: dict[str, list[str]] = {}
    for p in sorted(readable, key=len):
        anc = blocking_ancestor(p)
        if anc is None:
            continue
        kept = groups.setdefault(anc, [])
        if not any(p == k or p.startswith(k + os.sep) for k in kept):
            kept.append(p)
    return groups


def reexpose(groups: dict[str, list[str]]) -> None:
    """Hide each blocking dir behind a 0755 tmpfs and move only the wanted paths back in."""
    for ancestor, paths in groups.items():
        clones = []
        for p in paths:
            fd = _check(_libc.syscall(_SYS_OPEN_TREE, -100, p.encode(),
                                      _OPEN_TREE_CLONE | _AT_RECURSIVE | os.O_CLOEXEC), f"open_tree({p})")
            clones.append((p, int(fd)))
        _mount("tmpfs", ancestor, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,nr_inodes=256,mode=0755")
        for p, fd in clones:
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.makedirs(p, mode=0o755, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(p), mode=0o755, exist_ok=True)
                open(p, "w").close()
            _check(_libc.syscall(_SYS_MOVE_MOUNT, fd, b"", -100, p.encode(), _MOVE_MOUNT_F_EMPTY_PATH),
                   f"move_mount({p})")
            os.close(fd)
