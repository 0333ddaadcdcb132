"""Landlock through ctypes: a read-only / read-write filesystem allow-list, TCP and scope rules.

No package needed; the kernel ABI is probed (1 = filesystem, 4 = TCP, 6 = signal and
abstract-unix scoping). Build the ruleset while still privileged, apply it after the uid drop.
"""
from __future__ import annotations

import ctypes
import os
import stat

_SYS_CREATE, _SYS_ADD, _SYS_RESTRICT = 444, 445, 446   # x86_64 and aarch64 share these numbers
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_V1 = (1 << 13) - 1                       # EXECUTE .. MAKE_SYM
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1 << 0, 1 << 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is absent or disabled."""
    rc = _libc.syscall(_SYS_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return int(rc) if rc > 0 else 0


def _fs_all(abi: int) -> int:
    rights = _FS_V1
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    if abi >= 5:
        rights |= _IOCTL_DEV
    return rights


def _file_rights(abi: int) -> int:
    rights = EXECUTE | WRITE_FILE | READ_FILE
    if abi >= 3:
        rights |= _TRUNCATE
    if abi >= 5:
        rights |= _IOCTL_DEV
    return rights


class Ruleset:
    """A Landlock ruleset under construction; call restrict() in the process to confine."""

    def __init__(self, abi: int | None = None) -> None:
        """Create a ruleset handling every filesystem right, TCP and scopes the ABI knows."""
        self.abi = abi_version() if abi is None else abi
        if self.abi < 1:
            raise OSError("Landlock is not available on this kernel")
        attr = _RulesetAttr(_fs_all(self.abi),
                            (_NET_BIND_TCP | _NET_CONNECT_TCP) if self.abi >= 4 else 0,
                            (_SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL) if self.abi >= 6 else 0)
        size = 24 if self.abi >= 6 else 16 if self.abi >= 4 else 8
        fd = _libc.syscall(_SYS_CREATE, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_create_ruleset: {os.strerror(err)}")
        self.fd = int(fd)
        self.net = self.abi >= 4
        self.scoped = self.abi >= 6

    def allow(self, path: str, *, write: bool = False) -> bool:
        """Allow read (+execute) beneath path, or everything when write; False if path is missing."""
        try:
            pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            is_dir = stat.S_ISDIR(os.fstat(pfd).st_mode)
            if write:
                access = _fs_all(self.abi) if is_dir else _file_rights(self.abi)
            else:
                access = (EXECUTE | READ_FILE | READ_DIR) if is_dir else (EXECUTE | READ_FILE)
            rule = _PathBeneath(access, pfd)
            if _libc.syscall(_SYS_ADD, self.fd, _RULE_PATH_BENEATH, ctypes.byref(rule), 0) < 0:
                err = ctypes.get_errno()
                raise OSError(err, f"landlock_add_rule({path}): {os.strerror(err)}")
            return True
        finally:
            os.close(pfd)

    def restrict(self) -> None:
        """Set no_new_privs and confine the calling thread (and all its future children)."""
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl(NO_NEW_PRIVS): {os.strerror(err)}")
        if _libc.syscall(_SYS_RESTRICT, self.fd, 0) < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_restrict_self: {os.strerror(err)}")
        self.close()

    def close(self) -> None:
        """Release the ruleset fd."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
