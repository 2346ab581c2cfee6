"""Each sandbox layer alone, in a forked child: first the action works
without the layer, then the layer refuses it (Ladybird's sandbox tests).

Layers that also apply to an unprivileged user run twice as root: as root
and as ``nobody`` (a child that drops to uid 65534 with no capabilities
before the test, what ``setpriv --reuid`` would give; the venv's interpreter
may live under /root, mode 0700, so ``runuser`` cannot exec it).  As a normal
user they run once, as that user; what only root can show is marked
``needs_root`` and says why when it is skipped.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import resource
import select
import signal
import socket
import uuid
import tempfile
import threading

import pytest

from renderer import sandbox
from renderer.protocol import SandboxPolicy
from lockdown import landlock, privileges
from renderer.sandbox import limits, namespaces, syscalls
from lockdown.native import PR_GET_DUMPABLE, PR_GET_NO_NEW_PRIVS, PR_GET_SECCOMP, capabilities, libc, prctl
from security.forkrun import ROOT, UNPRIVILEGED, child_log, report, run_in_child

pytestmark = pytest.mark.security

#: As root: once as root, once dropped to nobody.  As a normal user: once, as that user.
AS_ROOT_AND_UNPRIVILEGED = pytest.mark.parametrize("as_user", [
    pytest.param(None, id="root", marks=pytest.mark.needs_root("runs the layer as root (the [unprivileged] case runs it as this user)")),
    pytest.param(UNPRIVILEGED, id="unprivileged"),
])


def unprivileged(as_user: int | None) -> bool:
    return as_user is not None or not ROOT


def errno_of(action) -> int:
    try:
        action()
    except OSError as error:
        return error.errno
    return 0


def expect(end, **facts) -> None:
    assert end.code == 0, str(end)
    for key, value in facts.items():
        assert end.reports.get(key) == value, f"{key}: {end.reports.get(key)!r} != {value!r}\n{end}"


@pytest.fixture
def tcp_listener():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()
    server.close()


@pytest.fixture
def abstract_listener():
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Unique per test: a child of the previous test may still hold its socket.
    name = f"\0minibrowser-test-{os.getpid()}-{uuid.uuid4().hex}"
    server.bind(name)
    server.listen(16)
    yield name
    server.close()


@pytest.fixture
def pathname_listener(tmp_path_factory):
    directory = tmp_path_factory.mktemp("unix")
    os.chmod(directory, 0o777)
    os.chmod(directory.parent, 0o755)
    os.chmod(directory.parent.parent, 0o755)
    path = str(directory / "broker.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o777)
    server.listen(16)
    yield path
    server.close()


def connect_errno(family: int, address) -> int:
    def attempt():
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(address)
    return errno_of(attempt)


# ----------------------------------------------------------- layer 1: process

def test_process_layer_makes_a_fresh_undumpable_session_leader():
    def body(apply: bool):
        if apply:
            sandbox.process.fresh_process_state(child_log(), parent_pid=os.getppid())
        report(dumpable=prctl(PR_GET_DUMPABLE), leader=os.getsid(0) == os.getpid(),
               stdin=os.readlink("/proc/self/fd/0"), extra_fd=errno_of(lambda: os.fstat(extra)))

    extra = os.open("/dev/null", os.O_RDONLY)
    try:
        expect(run_in_child(lambda: body(False)), dumpable=1, leader=False, extra_fd=0)
        expect(run_in_child(lambda: body(True)), dumpable=0, leader=True, stdin="/dev/null",
               extra_fd=errno.EBADF)
    finally:
        os.close(extra)


# ------------------------------------------------------- layer 2: namespaces

@AS_ROOT_AND_UNPRIVILEGED
def test_namespaces_cut_the_network(as_user, tcp_listener):
    def body(apply: bool):
        before = namespaces.namespace_inode("net")
        result = namespaces.enter_new_namespaces() if apply else None
        report(moved=namespaces.namespace_inode("net") != before,
               user_ns=bool(result and result.user_namespace),
               tcp=connect_errno(socket.AF_INET, tcp_listener),
               uid=os.getuid())

    expect(run_in_child(lambda: body(False), as_user=as_user), moved=False, tcp=0)
    end = run_in_child(lambda: body(True), as_user=as_user)
    # A new namespace has only a loopback that is down: the host's 127.0.0.1 is gone.
    expect(end, moved=True, tcp=errno.ENETUNREACH, user_ns=unprivileged(as_user),
           uid=as_user if as_user is not None else os.getuid())


@AS_ROOT_AND_UNPRIVILEGED
def test_namespaces_keep_pathname_unix_sockets_reachable(as_user, pathname_listener):
    def body():
        namespaces.enter_new_namespaces()
        report(unix=connect_errno(socket.AF_UNIX, pathname_listener))

    expect(run_in_child(body, as_user=as_user), unix=0)


# ----------------------------------------------------------- layer 2: limits

@AS_ROOT_AND_UNPRIVILEGED
def test_limits_cap_memory_files_and_file_size(as_user):
    policy = SandboxPolicy(memory_bytes=512 * 1024**2, open_files=32, file_size_bytes=4096)

    def body(apply: bool):
        if apply:
            limits.apply_limits(policy)

        def allocate():
            try:
                block = bytearray(700 * 1024**2)
                del block
                return "ok"
            except MemoryError:
                return "MemoryError"

        def open_many():
            fds = []
            try:
                for _ in range(100):
                    fds.append(os.open("/dev/null", os.O_RDONLY))
            finally:
                for fd in fds:
                    os.close(fd)

        def write_big():
            with tempfile.TemporaryFile() as f:
                f.write(b"x" * 8192)
                f.flush()

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death, to see it
        report(alloc=allocate(), files=errno_of(open_many), big_write=errno_of(write_big),
               core=resource.getrlimit(resource.RLIMIT_CORE)[0])

    expect(run_in_child(lambda: body(False), as_user=as_user), alloc="ok", files=0, big_write=0)
    expect(run_in_child(lambda: body(True), as_user=as_user),
           alloc="MemoryError", files=errno.EMFILE, big_write=errno.EFBIG, core=0)


def test_limits_cpu_time_kills():
    def body(apply: bool):
        # The limit counts CPU time the kernel samples at each tick, which on
        # a busy virtual machine (stolen time) runs behind process_time(): with
        # the limit, spin long enough that the kernel's count must pass it.
        spin_s = 5.0 if apply else 1.5
        if apply:
            limits.apply_limits(SandboxPolicy(cpu_seconds=1))
        import time
        start = time.process_time()
        while time.process_time() - start < spin_s:
            pass
        return 0

    assert run_in_child(lambda: body(False)).code == 0
    assert run_in_child(lambda: body(True)).signal == signal.SIGXCPU  # not SIGKILL: the soft limit


def test_nproc_zero_stops_new_threads_for_an_unprivileged_renderer():
    def body(apply: bool):
        if apply:
            limits.forbid_new_tasks()
        try:
            t = threading.Thread(target=lambda: None)
            t.start()
            t.join()
            report(thread="ok")
        except RuntimeError:
            report(thread="refused")
        report(fork=errno_of(lambda: os._exit(0) if os.fork() == 0 else os.wait()))

    expect(run_in_child(lambda: body(False), as_user=UNPRIVILEGED), thread="ok", fork=0)
    expect(run_in_child(lambda: body(True), as_user=UNPRIVILEGED), thread="refused", fork=errno.EAGAIN)


# ------------------------------------------------------- layer 3: privileges

@pytest.mark.needs_root("shows root's privileges going for good")
def test_privileges_drop_root_for_good():
    def body(apply: bool):
        if apply:
            result = privileges.drop_privileges(None, None)
            report(dropped=result.dropped_root)
        report(uid=os.getuid(), read_root_home=errno_of(lambda: os.listdir("/root")),
               setuid0=errno_of(lambda: os.setuid(0)), caps=capabilities()[1])

    expect(run_in_child(lambda: body(False)), uid=0, read_root_home=0, setuid0=0)
    nobody, _ = privileges.default_drop_ids()
    expect(run_in_child(lambda: body(True)), dropped=True, uid=nobody, read_root_home=errno.EACCES,
           setuid0=errno.EPERM, caps=0)


def test_privileges_drop_the_capabilities_a_user_namespace_gives():
    def body(apply: bool):
        namespaces.enter_new_namespaces()
        if apply:
            privileges.drop_privileges(None, None)
        report(caps=capabilities()[1], bounding_cap_sys_admin=prctl(23, 21))

    end = run_in_child(lambda: body(False), as_user=UNPRIVILEGED)
    assert end.code == 0 and end.reports["caps"] != 0, str(end)
    expect(run_in_child(lambda: body(True), as_user=UNPRIVILEGED), caps=0, bounding_cap_sys_admin=0)


@AS_ROOT_AND_UNPRIVILEGED
def test_no_new_privs(as_user):
    def body(apply: bool):
        if apply:
            privileges.set_no_new_privs()
        report(nnp=prctl(PR_GET_NO_NEW_PRIVS))

    expect(run_in_child(lambda: body(False), as_user=as_user), nnp=0)
    expect(run_in_child(lambda: body(True), as_user=as_user), nnp=1)


# --------------------------------------------------------- layer 4: Landlock

needs_landlock = pytest.mark.skipif(landlock.abi_version() < 6, reason="needs Landlock ABI >= 6")


@needs_landlock
@AS_ROOT_AND_UNPRIVILEGED
def test_landlock_denies_files_tcp_abstract_sockets_and_signals(
        as_user, tcp_listener, abstract_listener, pathname_listener):
    def body(apply: bool):
        # A process of our uid outside the Landlock domain.  It leaves when
        # we do (EOF on the pipe): PDEATHSIG would not reach it, since the
        # kernel sends it on behalf of the dying, Landlock-scoped parent.
        stay_read, stay_write = os.pipe()
        outsider = os.fork()
        if outsider == 0:
            os.close(stay_write)
            select.select([stay_read], [], [], 30)
            os._exit(0)
        os.close(stay_read)
        if apply:
            privileges.set_no_new_privs()
            landlock.restrict_self()
        report(read=errno_of(lambda: open("/etc/passwd").close()),
               write=errno_of(lambda: open(f"/tmp/landlock-{os.getpid()}", "w").close()),
               tcp=connect_errno(socket.AF_INET, tcp_listener),
               abstract=connect_errno(socket.AF_UNIX, abstract_listener),
               signal_outsider=errno_of(lambda: os.kill(outsider, 0)),
               signal_self=errno_of(lambda: os.kill(os.getpid(), 0)),
               pathname_unix=connect_errno(socket.AF_UNIX, pathname_listener))

    expect(run_in_child(lambda: body(False), as_user=as_user),
           read=0, write=0, tcp=0, abstract=0, signal_outsider=0, pathname_unix=0)
    # The broker's pathname socket stays reachable: that is how the renderer connects.
    expect(run_in_child(lambda: body(True), as_user=as_user),
           read=errno.EACCES, write=errno.EACCES, tcp=errno.EACCES, abstract=errno.EPERM,
           signal_outsider=errno.EPERM, signal_self=0, pathname_unix=0)
    for leftover in os.listdir("/tmp"):
        if leftover.startswith("landlock-"):
            os.unlink(f"/tmp/{leftover}")


# ---------------------------------------------------------- layer 6: seccomp

def _load_seccomp():
    syscalls.load(syscalls.build_filter(os.getpid()))


def _x32_getpid() -> int:
    return libc.syscall(ctypes.c_long(0x40000000 | 39))


@pytest.mark.parametrize("attempt", [
    pytest.param(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close(), id="socket"),
    pytest.param(lambda: os._exit(0) if os.fork() == 0 else os.wait(), id="fork"),
    pytest.param(lambda: os.execv("/bin/true", ["true"]) if os.fork() == 0 else os.wait(), id="execve-via-fork"),
    pytest.param(lambda: os.unshare(0) if hasattr(os, "unshare") else libc.unshare(0), id="unshare"),
    pytest.param(_x32_getpid, id="x32-abi"),
])
def test_seccomp_kills_dangerous_calls(attempt):
    def body(apply: bool):
        if apply:
            _load_seccomp()
        attempt()
        report(survived=True)

    expect(run_in_child(lambda: body(False)), survived=True) if attempt is not _x32_getpid else None
    assert run_in_child(lambda: body(True)).killed_by_sigsys


@AS_ROOT_AND_UNPRIVILEGED
def test_seccomp_refuses_with_errors_where_failing_is_enough(as_user):
    other = os.getpid()

    def body(apply: bool):
        if apply:
            _load_seccomp()
        exec_map = errno_of(lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_EXEC).close())
        report(open=errno_of(lambda: open("/etc/hostname").close()),
               stat=errno_of(lambda: os.stat("/etc/hostname")),
               ioctl=errno_of(lambda: os.get_terminal_size(1)),
               kill_other=errno_of(lambda: os.kill(other, 0)),
               kill_self=errno_of(lambda: os.kill(os.getpid(), 0)),
               exec_mapping=exec_map,
               mkdir=errno_of(lambda: os.mkdir(f"/tmp/mb-seccomp-{os.getpid()}")),
               seccomp=prctl(PR_GET_SECCOMP))

    expect(run_in_child(lambda: body(False), as_user=as_user), open=0, stat=0, ioctl=errno.ENOTTY,
           kill_other=0 if as_user is None else errno.EPERM, kill_self=0, exec_mapping=0, seccomp=0)
    expect(run_in_child(lambda: body(True), as_user=as_user), open=errno.EACCES, stat=errno.EACCES,
           ioctl=errno.ENOTTY, kill_other=errno.EPERM, kill_self=0, exec_mapping=errno.EPERM,
           mkdir=errno.EPERM, seccomp=2)
    for leftover in os.listdir("/tmp"):
        if leftover.startswith("mb-seccomp-"):
            os.rmdir(f"/tmp/{leftover}")


def test_seccomp_refuses_new_threads_after_lockdown():
    def body(locked: bool):
        if locked:
            _load_seccomp()
        try:
            t = threading.Thread(target=lambda: None)
            t.start()
            t.join()
            report(thread="started")
        except RuntimeError as error:
            report(thread=str(error))

    expect(run_in_child(lambda: body(False)), thread="started")  # works outside the filter
    expect(run_in_child(lambda: body(True)), thread="can't start new thread")


def test_seccomp_covers_threads_that_already_exist():
    def body():
        ready, go = threading.Event(), threading.Event()

        def worker():
            ready.set()
            go.wait()
            socket.socket()  # after the main thread loaded the filter: TSYNC must cover us

        t = threading.Thread(target=worker)
        t.start()
        ready.wait()
        _load_seccomp()
        go.set()
        t.join()
        report(survived=True)

    assert run_in_child(body).killed_by_sigsys
