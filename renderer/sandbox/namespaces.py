"""Layer 2a: a new network and IPC namespace.

The renderer ends up with only a loopback interface that is down, and no
System V IPC / POSIX message queue objects shared with anyone.  Its pathname
``ipc://`` connection to the broker is unaffected: UNIX sockets bound to a
filesystem path are found through the filesystem, not the network namespace
(abstract sockets would not be, and are not used).

As root ``unshare(CLONE_NEWNET | CLONE_NEWIPC)`` is enough.  An unprivileged
process first needs a user namespace of its own (``CLONE_NEWUSER``), in which
it maps its own uid and gid onto themselves, so it keeps its identity, files
it creates stay its own, and the capabilities it holds inside that namespace
are then dropped by the privileges layer.

``unshare`` of a user namespace is refused to a multithreaded process: call
this while the renderer is single-threaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from lockdown.native import PR_GET_DUMPABLE, PR_SET_DUMPABLE, prctl, unshare

CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000


@dataclass(frozen=True)
class NamespacesResult:
    applied: bool
    user_namespace: bool  # True when a user namespace was needed (not root)
    detail: str


def namespace_inode(kind: str) -> int | None:
    """The inode of /proc/self/ns/<kind>: it changes when we enter a new one."""
    try:
        return os.stat(f"/proc/self/ns/{kind}").st_ino
    except OSError:
        return None


def user_namespaces_allowed() -> bool:
    """Whether an unprivileged process may create a user namespace (static check)."""
    for path, forbidden in (("/proc/sys/user/max_user_namespaces", "0"),
                            ("/proc/sys/kernel/unprivileged_userns_clone", "0"),
                            ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1")):
        try:
            with open(path) as f:
                if f.read().strip() == forbidden:
                    return False
        except OSError:
            continue
    return os.path.exists("/proc/self/ns/user")


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _map_own_ids(uid: int, gid: int) -> None:
    """Map uid->uid and gid->gid in the new user namespace.

    Layer 1 made the process non-dumpable, which makes its /proc files
    root-owned, so an unprivileged process could not open its own uid_map.
    It is dumpable for the few microseconds of the writes (nothing of this
    process can be attacked yet: no content has been read), then not again.
    """
    was_dumpable = prctl(PR_GET_DUMPABLE)
    prctl(PR_SET_DUMPABLE, 1)
    try:
        _write("/proc/self/setgroups", "deny")  # required before gid_map without CAP_SETGID
        _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
        _write("/proc/self/gid_map", f"{gid} {gid} 1\n")
    finally:
        prctl(PR_SET_DUMPABLE, was_dumpable)


def enter_new_namespaces() -> NamespacesResult:
    """Unshare the network and IPC namespaces; never raises (the layer is optional)."""
    flags = CLONE_NEWNET | CLONE_NEWIPC
    if os.geteuid() == 0:
        try:
            unshare(flags)
            return NamespacesResult(True, False, "new network and IPC namespace")
        except OSError as error:
            root_error = error  # root without CAP_SYS_ADMIN (a container): try as a user would
    else:
        root_error = None
    uid, gid = os.getuid(), os.getgid()
    try:
        unshare(CLONE_NEWUSER | flags)
    except OSError as error:
        why = root_error or error
        return NamespacesResult(False, False, f"unshare refused ({why.strerror}); user namespaces "
                                              f"{'allowed' if user_namespaces_allowed() else 'disabled'}")
    try:
        _map_own_ids(uid, gid)
    except OSError as error:
        # The namespaces exist but our uid is unmapped (shown as nobody): still isolated.
        return NamespacesResult(True, True, f"new user, network and IPC namespace (id map failed: {error.strerror})")
    return NamespacesResult(True, True, f"new user (uid {uid} mapped), network and IPC namespace")
