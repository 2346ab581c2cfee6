"""Landlock for every sandboxed process: a ruleset that handles every right
this kernel's ABI knows and grants only what the caller names.

With no rules (the renderer) the process can open no file or directory (not
even /proc/self or /dev/null), create none, bind or connect no TCP port
(ABI >= 4), reach no abstract UNIX socket outside its own domain and signal
no process outside it (ABI >= 6).  The network process names a few
read-only paths (resolver and CA files) and keeps TCP connect, which is its
job, while bind stays handled and refused.  Connecting to a *pathname* UNIX
socket is not a filesystem right Landlock controls up to ABI 7, which is why
a renderer can still reach the broker.

``restrict_self`` applies to the calling thread only (ABI 8 adds a flag for
all threads; we do not rely on it): call it while the process is still
single-threaded; threads it starts later inherit it.  It needs
``no_new_privs`` (or CAP_SYS_ADMIN) first.
"""

from __future__ import annotations

import ctypes
import errno
import os
from dataclasses import dataclass

from lockdown.native import (
    SYS_LANDLOCK_ADD_RULE,
    SYS_LANDLOCK_CREATE_RULESET,
    SYS_LANDLOCK_RESTRICT_SELF,
    libc,
)

LANDLOCK_CREATE_RULESET_VERSION = 1 << 0

# Filesystem rights, with the ABI that introduced them.
ACCESS_FS = {
    "execute": (1 << 0, 1),
    "write_file": (1 << 1, 1),
    "read_file": (1 << 2, 1),
    "read_dir": (1 << 3, 1),
    "remove_dir": (1 << 4, 1),
    "remove_file": (1 << 5, 1),
    "make_char": (1 << 6, 1),
    "make_dir": (1 << 7, 1),
    "make_reg": (1 << 8, 1),
    "make_sock": (1 << 9, 1),
    "make_fifo": (1 << 10, 1),
    "make_block": (1 << 11, 1),
    "make_sym": (1 << 12, 1),
    "refer": (1 << 13, 2),
    "truncate": (1 << 14, 3),
    "ioctl_dev": (1 << 15, 5),
}
ACCESS_NET = {
    "bind_tcp": (1 << 0, 4),
    "connect_tcp": (1 << 1, 4),
}
SCOPE = {
    "abstract_unix_socket": (1 << 0, 6),
    "signal": (1 << 1, 6),
}


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


def abi_version() -> int:
    """Landlock ABI of this kernel; 0 if it has none or it is disabled."""
    result = libc.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                          ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    return max(result, 0)


def unavailable_reason() -> str:
    libc.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                 ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    err = ctypes.get_errno()
    if err == errno.EOPNOTSUPP:
        return "kernel has it disabled (add landlock to the lsm= boot parameter)"
    if err == errno.ENOSYS:
        return "kernel too old or built without it (needs Linux 5.13+)"
    return os.strerror(err)


def _mask(rights: dict[str, tuple[int, int]], abi: int) -> tuple[int, list[str]]:
    mask, names = 0, []
    for name, (bit, since) in rights.items():
        if abi >= since:
            mask |= bit
            names.append(name)
    return mask, names


READ_FILE = ACCESS_FS["read_file"][0]
READ_DIR = ACCESS_FS["read_dir"][0]
_RULE_PATH_BENEATH = 1


class _PathBeneath(ctypes.Structure):
    _pack_ = 1  # struct landlock_path_beneath_attr is packed
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@dataclass(frozen=True)
class LandlockResult:
    abi: int
    fs_rights: list[str]
    net_rights: list[str]
    scopes: list[str]
    readable: int = 0  # paths left readable
    tcp_connect: bool = False  # TCP connect left allowed

    @property
    def detail(self) -> str:
        if self.readable:
            parts = [f"ABI {self.abi}: filesystem read-only, {self.readable} paths readable, nothing else"]
        else:
            parts = [f"ABI {self.abi}: all {len(self.fs_rights)} filesystem rights denied"]
        if not self.net_rights:
            parts.append("TCP not controllable (ABI < 4)")
        else:
            parts.append("TCP bind denied, connect allowed" if self.tcp_connect else "TCP bind/connect denied")
        parts.append("abstract UNIX sockets and signals scoped" if self.scopes else "no scoping (ABI < 6)")
        return ", ".join(parts)


def restrict_self(abi: int | None = None, *, readable: tuple[tuple[int, int], ...] = (),
                  tcp_connect: bool = False) -> LandlockResult:
    """Enforce the ruleset on the calling thread.  Raises OSError.

    ``readable``: ``(O_PATH descriptor, rights)`` pairs (``READ_FILE``,
    ``READ_FILE | READ_DIR``), opened by the caller while it still may (the
    descriptors stay the caller's to close).  ``tcp_connect``: leave TCP
    connect unhandled, hence allowed; bind is still refused."""
    abi = abi_version() if abi is None else abi
    if abi < 1:
        raise OSError(errno.EOPNOTSUPP, f"Landlock is not available ({unavailable_reason()})")
    fs, fs_names = _mask(ACCESS_FS, abi)
    net_rights = {k: v for k, v in ACCESS_NET.items() if not (tcp_connect and k == "connect_tcp")}
    net, net_names = _mask(net_rights, abi)
    scoped, scope_names = _mask(SCOPE, abi)
    attr = _RulesetAttr(fs, net, scoped)
    # Older kernels take a shorter struct; the kernel accepts a longer one whose extra fields are 0.
    size = 8 if abi < 4 else (16 if abi < 6 else ctypes.sizeof(attr))
    fd = libc.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), ctypes.byref(attr),
                      ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_create_ruleset: {os.strerror(err)}")
    try:
        for path_fd, rights in readable:
            rule = _PathBeneath(rights, path_fd)
            if libc.syscall(ctypes.c_long(SYS_LANDLOCK_ADD_RULE), ctypes.c_long(fd), ctypes.c_long(_RULE_PATH_BENEATH),
                            ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"landlock_add_rule: {os.strerror(err)}")
        if libc.syscall(ctypes.c_long(SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_long(fd), ctypes.c_uint32(0)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_restrict_self: {os.strerror(err)}")
    finally:
        os.close(fd)
    return LandlockResult(abi, fs_names, net_names, scope_names, readable=len(readable),
                          tcp_connect=tcp_connect and abi >= 4)
