"""Layer 3: no privileges.

Started as root, the renderer drops to an unprivileged uid/gid (``nobody``
and ``nogroup`` unless the policy names others) with no supplementary
groups, and checks that it cannot become root again.  Whoever it runs as,
it then holds no capability at all -- not in the effective, permitted,
inheritable or ambient sets, and none left in the bounding set -- which
matters for an unprivileged renderer too: inside the user namespace it
created (namespaces layer) it holds every capability.

``PR_SET_NO_NEW_PRIVS`` closes the last way back (setuid binaries, file
capabilities) and is what lets an unprivileged process apply Landlock and
seccomp.  It applies to the calling thread and its future children only.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
from dataclasses import dataclass
from functools import cache

from lockdown.native import (
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_CLEAR_ALL,
    PR_CAPBSET_DROP,
    PR_CAPBSET_READ,
    PR_GET_NO_NEW_PRIVS,
    PR_SET_NO_NEW_PRIVS,
    capabilities,
    clear_capabilities,
    prctl,
)


class CannotDropPrivileges(Exception):
    pass


@cache
def default_drop_ids() -> tuple[int, int]:
    """uid of ``nobody`` and gid of ``nogroup`` (or ``nobody``), looked up once.

    Called from the zygote's preload: NSS may need files and libraries that
    a locked-down process can no longer open.
    """
    try:
        uid = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        uid = 65534
    for name in ("nogroup", "nobody"):
        try:
            return uid, grp.getgrnam(name).gr_gid
        except KeyError:
            continue
    return uid, 65534


@cache
def last_capability() -> int:
    """Highest capability number this kernel knows (CAP_LAST_CAP)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return 63


@dataclass(frozen=True)
class PrivilegesResult:
    dropped_root: bool  # False when the renderer was not root to begin with
    uid: int
    gid: int
    detail: str


def _drop_capability_sets() -> None:
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    for cap in range(last_capability() + 1):
        if prctl(PR_CAPBSET_READ, cap) == 1:
            try:
                prctl(PR_CAPBSET_DROP, cap)
            except OSError as error:
                # Without CAP_SETPCAP the bounding set cannot shrink; with no
                # capability held and no_new_privs set, it cannot be used either.
                if error.errno != errno.EPERM:
                    raise
                break


def drop_privileges(uid: int | None, gid: int | None) -> PrivilegesResult:
    """Drop root (if root) and every capability.  Raises CannotDropPrivileges."""
    was_root = os.geteuid() == 0 or os.getuid() == 0
    try:
        # The bounding set can only shrink while CAP_SETPCAP is held: first.
        _drop_capability_sets()
        if was_root:
            default_uid, default_gid = default_drop_ids()
            uid = default_uid if uid is None else uid
            gid = default_gid if gid is None else gid
            if uid == 0 or gid == 0:
                raise CannotDropPrivileges("the sandbox policy asks to stay root")
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)  # leaving uid 0 empties the capability sets too
        clear_capabilities()  # and this empties them whoever we are (e.g. in a user namespace)
    except OSError as error:
        raise CannotDropPrivileges(f"{error}") from error
    _verify_unprivileged()
    uid, gid = os.getuid(), os.getgid()
    if was_root:
        return PrivilegesResult(True, uid, gid, f"root dropped to uid {uid} gid {gid}, no groups, no capabilities")
    return PrivilegesResult(False, uid, gid, f"n/a: not root (uid {uid}); holds no capabilities")


def _verify_unprivileged() -> None:
    if 0 in os.getresuid() or 0 in os.getresgid() or os.getgroups() not in ([], [os.getgid()]):
        raise CannotDropPrivileges(f"still root: uid {os.getresuid()} gid {os.getresgid()}")
    try:
        os.setuid(0)
    except OSError:  # EPERM; EINVAL in a user namespace where uid 0 is not even mapped
        pass
    else:
        raise CannotDropPrivileges("could become root again")
    effective, permitted, inheritable = capabilities()
    if effective or permitted or inheritable:
        raise CannotDropPrivileges(f"capabilities still held: {permitted:#x}")


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def no_new_privs() -> bool:
    return prctl(PR_GET_NO_NEW_PRIVS) == 1
