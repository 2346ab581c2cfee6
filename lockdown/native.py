"""The few libc entry points the sandbox layers share (ctypes, loaded once).

Everything here is loaded at import time, before lockdown (in the zygote,
or in the network process before it locks itself down): after lockdown
nothing can be loaded from disk.
"""

from __future__ import annotations

import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

# x86_64 syscall numbers used directly (no glibc wrapper in Python 3.11).
SYS_CAPGET = 125
SYS_CAPSET = 126
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446

# prctl(2) options.
PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
PR_GET_NAME = 16
PR_GET_SECCOMP = 21
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_GET_SECUREBITS = 27
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4


def _raise_errno(what: str) -> None:
    err = ctypes.get_errno()
    raise OSError(err, f"{what}: {os.strerror(err)}")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    result = libc.prctl(option, ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                        ctypes.c_ulong(arg4), ctypes.c_ulong(arg5))
    if result < 0:
        _raise_errno(f"prctl({option})")
    return result


def syscall(number: int, *args: int | ctypes._Pointer | ctypes.c_void_p | None, what: str = "") -> int:
    """Raw syscall(2); raises OSError on -1.  Integer arguments are passed as longs."""
    converted = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    result = libc.syscall(ctypes.c_long(number), *converted)
    if result == -1:
        _raise_errno(what or f"syscall({number})")
    return result


def unshare(flags: int) -> None:
    if libc.unshare(ctypes.c_int(flags)) != 0:
        _raise_errno("unshare")


# Linux capabilities (capget/capset, version 3: two 32-bit words per set).
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def capabilities() -> tuple[int, int, int]:
    """(effective, permitted, inheritable) of the calling thread, as 64-bit masks."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    syscall(SYS_CAPGET, ctypes.byref(header), data, what="capget")
    return tuple(data[0].__getattribute__(f) | (data[1].__getattribute__(f) << 32)
                 for f in ("effective", "permitted", "inheritable"))  # type: ignore[return-value]


def clear_capabilities() -> None:
    """Empty the effective, permitted and inheritable sets of the calling thread."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    syscall(SYS_CAPSET, ctypes.byref(header), data, what="capset")
