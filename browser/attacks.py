"""The compromise-simulation catalogue: what an attacker in a renderer tries.

Each attack is Python source that runs *inside* a real renderer, forked by
the zygote for this purpose, after the full lockdown (see
``browser/security.py``).  It performs one forbidden action for real and sets
``result`` if the action succeeded.  The outcome is read from how it ended:

* ``blocked``  the action raised (an errno, MemoryError, ...): the sandbox said no
* ``killed``   the renderer died (SIGSYS from seccomp, SIGXCPU/SIGXFSZ from a
               limit) or the broker ended it for a bad message
* ``ALLOWED``  the code ran to the end: the sandbox failed

The same source runs outside the sandbox too (``tests/security``), to show
that each attack does work when nothing stops it.  Drawn from what
Chromium's sandbox tests, bubblewrap, firejail and minijail check.

Every attack sees these names (the ``Target`` values, set by the runner):
``BROKER_PID``, ``SIBLING_PID`` (a renderer of another tab),
``SECRET_PATH`` (a file planted by the runner), ``PROFILE_PATH`` (a file in
the browser profile), ``SCRATCH_DIR`` (an existing directory the attack may
try to write into), ``BROKER_SOCKET`` (the broker's ipc socket path),
``LISTENER_PORT`` (a TCP listener on 127.0.0.1), ``RENDERER`` (its own renderer id),
``sock`` (its ZeroMQ DEALER to the broker, inside a renderer only), and the
helpers below (``libc_call``, ``raw_syscall``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attack:
    name: str
    category: str  # files, network, processes, kernel, resources, ipc, browser
    description: str
    code: str
    layer: str  # the layer expected to stop it first
    inside_only: bool = False  # needs the renderer's own broker connection (IPC abuse)
    root_only_outside: bool = False  # showing it works outside needs root
    # The code serves a tab as its renderer: the runner opens a page in that
    # tab and judges the attack by what the user would see.
    serves_tab: bool = False
    expected_bad_message: str | None = None  # the BadMessage name the broker must end it with
    commits_document: bool = False  # the broker first loads COMMITTED_URL into the renderer
    # Where the code runs: in a renderer, or in a network process started for it.
    process: str = "renderer"
    # A network process attack answers a page load the broker asks of it
    # (``next_fetch()``); the runner loads a page through it and judges by that.
    loads_page: bool = False


@dataclass(frozen=True)
class Target:
    """The real things an attack aims at, filled in by the runner."""

    broker_pid: int
    sibling_pid: int
    secret_path: str
    profile_path: str
    scratch_dir: str
    broker_socket: str
    listener_port: int
    tab: int = 0

    def preamble(self) -> str:
        return PREAMBLE.format(
            broker_pid=self.broker_pid,
            sibling_pid=self.sibling_pid,
            secret_path=self.secret_path,
            profile_path=self.profile_path,
            scratch_dir=self.scratch_dir,
            broker_socket=self.broker_socket,
            listener_port=self.listener_port,
            tab=self.tab,
        )


PREAMBLE = '''\
import ctypes, errno, os, signal
BROKER_PID = {broker_pid}
SIBLING_PID = {sibling_pid}
SECRET_PATH = {secret_path!r}
PROFILE_PATH = {profile_path!r}
SCRATCH_DIR = {scratch_dir!r}
BROKER_SOCKET = {broker_socket!r}
LISTENER_PORT = {listener_port}
RENDERER = globals().get("renderer", {tab})  # inside a renderer: its own id
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

def libc_call(name, *args):
    """Call a libc function; raise OSError with its errno when it fails."""
    ret = getattr(_libc, name)(*args)
    if ret == -1:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return ret

def raw_syscall(number, *args):
    """syscall(2) with ctypes arguments; raise OSError on -1."""
    ret = _libc.syscall(ctypes.c_long(number), *args)
    if ret == -1:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return ret

def child_exits_at_once(pid):
    """After a fork-like call: the child leaves at once, the parent reaps it."""
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
'''

_A = Attack

# x86_64 syscall numbers used below.
NR = {
    "vfork": 58, "clone": 56, "clone3": 435, "ptrace": 101, "process_vm_readv": 310,
    "setns": 308, "bpf": 321, "perf_event_open": 298, "io_uring_setup": 425,
    "add_key": 248, "userfaultfd": 323, "personality": 135, "pidfd_open": 434,
}

CATALOGUE: tuple[Attack, ...] = (
    # -- files -----------------------------------------------------------------
    _A("read-passwd", "files", "read /etc/passwd",
       "result = open('/etc/passwd', 'rb').read(64)", "seccomp+landlock"),
    _A("read-shadow", "files", "read /etc/shadow (root outside)",
       "result = open('/etc/shadow', 'rb').read(64)", "seccomp+landlock", root_only_outside=True),
    _A("read-secret", "files", "read a secret file planted by the test",
       "result = open(SECRET_PATH, 'rb').read()", "seccomp+landlock"),
    _A("read-profile", "files", "read the browser profile",
       "result = open(PROFILE_PATH, 'rb').read(64)", "seccomp+landlock"),
    _A("list-root", "files", "list the root directory",
       "result = os.listdir('/')", "seccomp+landlock"),
    _A("stat-secret", "files", "learn that a file exists (stat)",
       "result = os.stat(SECRET_PATH).st_size", "seccomp"),
    _A("write-new-file", "files", "create and write a file",
       "f = open(os.path.join(SCRATCH_DIR, 'planted'), 'wb'); f.write(b'x'); f.close(); result = 'written'",
       "seccomp+landlock"),
    _A("truncate-secret", "files", "truncate an existing file",
       "os.truncate(SECRET_PATH, 0); result = 'truncated'", "seccomp+landlock"),
    _A("unlink-secret", "files", "delete a file",
       "os.unlink(SECRET_PATH); result = 'deleted'", "seccomp+landlock"),
    _A("symlink", "files", "make a symlink to /etc/passwd",
       "os.symlink('/etc/passwd', os.path.join(SCRATCH_DIR, 'link')); result = 'linked'", "seccomp+landlock"),
    _A("hardlink", "files", "hard-link a file to a new name",
       "os.link(SECRET_PATH, os.path.join(SCRATCH_DIR, 'hard')); result = 'linked'", "seccomp+landlock"),
    _A("chmod-secret", "files", "make a file world-writable",
       "os.chmod(SECRET_PATH, 0o666); result = 'chmod'", "seccomp+landlock"),
    _A("mkdir", "files", "make a directory",
       "os.mkdir(os.path.join(SCRATCH_DIR, 'dir')); result = 'made'", "seccomp+landlock"),
    _A("broker-environ", "files", "read the broker's environment from /proc",
       "result = open('/proc/%d/environ' % BROKER_PID, 'rb').read(64)", "seccomp+landlock"),
    _A("broker-mem", "files", "read the broker's memory through /proc/PID/mem",
       "f = open('/proc/%d/mem' % BROKER_PID, 'rb'); result = f.fileno()", "seccomp+landlock"),
    # -- network ---------------------------------------------------------------
    _A("socket-inet", "network", "open an AF_INET socket",
       "result = libc_call('socket', 2, 1, 0)", "seccomp"),
    _A("socket-inet6", "network", "open an AF_INET6 socket",
       "result = libc_call('socket', 10, 1, 0)", "seccomp"),
    _A("socket-netlink", "network", "open an AF_NETLINK socket",
       "result = libc_call('socket', 16, 3, 0)", "seccomp"),
    _A("socket-packet", "network", "open an AF_PACKET raw socket (root outside)",
       "result = libc_call('socket', 17, 3, 0)", "seccomp", root_only_outside=True),
    _A("connect-broker-socket", "network", "open a second AF_UNIX connection to the broker's socket",
       "import socket\ns = socket.socket(socket.AF_UNIX); s.connect(BROKER_SOCKET); result = 'connected'", "seccomp"),
    _A("connect-localhost", "network", "connect to a TCP listener on 127.0.0.1",
       "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
       "s.connect(('127.0.0.1', LISTENER_PORT)); result = 'connected'",
       "seccomp"),
    _A("socketpair", "network", "create a socketpair",
       "fds = (ctypes.c_int * 2)(); libc_call('socketpair', 1, 1, 0, fds); result = list(fds)", "seccomp"),
    # -- processes -------------------------------------------------------------
    _A("execve", "processes", "run /bin/true",
       "os.execv('/bin/true', ['/bin/true'])", "seccomp"),
    _A("fork", "processes", "fork a process",
       "pid = os.fork(); child_exits_at_once(pid); result = pid", "seccomp"),
    # A raw vfork cannot be made safely from Python (the child would run on
    # the parent's stack); glibc's posix_spawn is the real vfork-style path:
    # clone(CLONE_VM | CLONE_VFORK) then exec.  The sweep covers vfork itself.
    _A("vfork-spawn", "processes", "spawn /bin/true the vfork way (posix_spawn: CLONE_VM|CLONE_VFORK)",
       "pid = os.posix_spawn('/bin/true', ['/bin/true'], {})\nos.waitpid(pid, 0); result = pid", "seccomp"),
    _A("clone-process", "processes", "clone without CLONE_THREAD (a new process)",
       "pid = raw_syscall(NR_clone, ctypes.c_ulong(signal.SIGCHLD), None, None, None, ctypes.c_ulong(0))\n"
       "child_exits_at_once(pid); result = pid", "seccomp"),
    _A("kill-broker", "processes", "send a signal to the broker",
       "os.kill(BROKER_PID, signal.SIGCONT); result = 'signalled'", "seccomp"),
    _A("kill-sibling", "processes", "send a signal to another tab's renderer",
       "os.kill(SIBLING_PID, signal.SIGCONT); result = 'signalled'", "seccomp"),
    _A("ptrace-sibling", "processes", "attach to another tab's renderer with ptrace",
       "raw_syscall(NR_ptrace, ctypes.c_long(16), ctypes.c_long(SIBLING_PID), None, None)\n"
       "os.waitpid(SIBLING_PID, 0x40000000)\n"
       "raw_syscall(NR_ptrace, ctypes.c_long(17), ctypes.c_long(SIBLING_PID), None, None); result = 'attached'",
       "seccomp", root_only_outside=True),
    _A("process-vm-readv", "processes", "read the broker's memory with process_vm_readv",
       "buf = ctypes.create_string_buffer(16)\n"
       "local = (ctypes.c_void_p * 2)(ctypes.cast(buf, ctypes.c_void_p), 16)\n"
       "remote = (ctypes.c_void_p * 2)(id(None), 16)  # None lives at the same address in forks of one parent\n"
       "result = raw_syscall(NR_process_vm_readv, ctypes.c_long(BROKER_PID), local, ctypes.c_ulong(1), remote,"
       " ctypes.c_ulong(1), ctypes.c_ulong(0))", "seccomp", root_only_outside=True),
    _A("setuid-root", "processes", "become root again with setuid(0)",
       "os.setuid(0); result = os.getuid()", "seccomp+privileges", root_only_outside=True),
    _A("unshare-user", "processes", "make a new user namespace",
       "libc_call('unshare', 0x10000000); result = 'unshared'", "seccomp"),
    _A("setns", "processes", "join another namespace (the broker's network namespace)",
       "fd = os.open('/proc/%d/ns/net' % BROKER_PID, os.O_RDONLY)\n"
       "raw_syscall(NR_setns, ctypes.c_int(fd), ctypes.c_int(0x40000000)); result = 'joined'",
       "seccomp+landlock", root_only_outside=True),
    _A("mount-tmpfs", "processes", "mount a tmpfs",
       "libc_call('mount', b'none', SCRATCH_DIR.encode(), b'tmpfs', ctypes.c_ulong(0), None)\n"
       "libc_call('umount2', SCRATCH_DIR.encode(), 0); result = 'mounted'", "seccomp", root_only_outside=True),
    _A("chroot", "processes", "chroot to /",
       "os.chroot('/'); result = 'chrooted'", "seccomp", root_only_outside=True),
    _A("pidfd-open-broker", "processes", "get a pidfd for the broker",
       "result = raw_syscall(NR_pidfd_open, ctypes.c_int(BROKER_PID), ctypes.c_uint(0))", "seccomp"),
    # -- kernel attack surface -------------------------------------------------
    _A("bpf-map", "kernel", "create a BPF map",
       "attr = (ctypes.c_uint32 * 32)(2, 4, 4, 1)\n"
       "result = raw_syscall(NR_bpf, ctypes.c_int(0), attr, ctypes.c_uint(128))", "seccomp", root_only_outside=True),
    _A("perf-event-open", "kernel", "open a perf event",
       "attr = (ctypes.c_uint32 * 32)(); attr[0] = 1; attr[1] = 128\n"
       "result = raw_syscall(NR_perf_event_open, attr, ctypes.c_int(0), ctypes.c_int(-1), ctypes.c_int(-1),"
       " ctypes.c_ulong(0))", "seccomp", root_only_outside=True),
    _A("io-uring-setup", "kernel", "set up an io_uring",
       "params = (ctypes.c_uint32 * 30)()\n"
       "result = raw_syscall(NR_io_uring_setup, ctypes.c_uint(4), params)", "seccomp"),
    _A("add-key", "kernel", "add a key to a keyring",
       "result = raw_syscall(NR_add_key, b'user', b'minibrowser', b'x', ctypes.c_size_t(1), ctypes.c_int(-2))",
       "seccomp"),
    _A("userfaultfd", "kernel", "open a userfaultfd",
       "result = raw_syscall(NR_userfaultfd, ctypes.c_int(0))", "seccomp", root_only_outside=True),
    _A("personality", "kernel", "set READ_IMPLIES_EXEC with personality()",
       "old = raw_syscall(NR_personality, ctypes.c_ulong(0x0400000))\n"
       "raw_syscall(NR_personality, ctypes.c_ulong(old)); result = old", "seccomp"),
    _A("tiocsti", "kernel", "push keystrokes into an inherited terminal (TIOCSTI)",
       "c = ctypes.c_char(b'x')\n"
       "fds = [fd for fd in (0, 1, 2) if os.isatty(fd)] or [TTY_FD]\n"
       "libc_call('ioctl', fds[0], ctypes.c_ulong(0x5412), ctypes.byref(c)); result = 'injected'",
       # Outside, into a terminal that is not its controlling one: only root may.
       "seccomp", root_only_outside=True),
    # -- resources -------------------------------------------------------------
    _A("memory-bomb", "resources", "map 8 GiB of memory",
       "import mmap\nhoard = [mmap.mmap(-1, 256 * 1024 * 1024) for _ in range(32)]; result = len(hoard)",
       "limits"),
    _A("fork-bomb", "resources", "fork without end",
       "pids = []\n"
       "for _ in range(3):\n"
       "    pid = os.fork()\n"
       "    child_exits_at_once(pid); pids.append(pid)\n"
       "result = pids", "seccomp"),
    _A("thread-bomb", "resources", "start many threads",
       "import _thread\n"
       "for _ in range(64): _thread.start_new_thread(lambda: None, ())\n"
       "result = 'started'", "limits"),
    _A("cpu-spin", "resources", "spin on the CPU without end",
       "import time\nend = time.monotonic() + SPIN_SECONDS\n"
       "while time.monotonic() < end: pass\nresult = 'spun'", "limits"),
    _A("huge-file", "resources", "write 64 MiB to an open file (its log)",
       "block = b'x' * (1024 * 1024)\nfd = HUGE_FILE_FD\n"
       "for _ in range(64): os.write(fd, block)\nresult = 'written'", "limits"),
    # -- IPC abuse: the broker must end the renderer, by name ------------------
    _A("ipc-other-renderer", "ipc", "answer in the name of another renderer",
       "sock.send(protocol.encode(protocol.Pong(renderer=RENDERER + 1000, seq=1)))\n"
       "sock.poll(5000); result = 'not ended'", "broker", inside_only=True),
    _A("ipc-oversized", "ipc", "send a message over the size cap",
       "sock.send(b'\\x00' * (protocol.MAX_MESSAGE_BYTES + 1))\nsock.poll(5000); result = 'not ended'",
       "broker", inside_only=True),
    _A("ipc-malformed", "ipc", "send bytes that do not decode",
       "sock.send(b'\\xc1\\xc1 not msgpack')\nsock.poll(5000); result = 'not ended'", "broker", inside_only=True),
    _A("ipc-unknown-type", "ipc", "send a message of a type not in the protocol",
       "import msgspec\nsock.send(msgspec.msgpack.encode({'type': 'open_file', 'renderer': RENDERER, 'path': '/etc/shadow'}))\n"
       "sock.poll(5000); result = 'not ended'", "broker", inside_only=True),
    _A("ipc-replayed-hello", "ipc", "send the handshake again",
       "sock.send(protocol.encode(protocol.Hello(renderer=RENDERER, token='replayed', pid=os.getpid())))\n"
       "sock.poll(5000); result = 'not ended'", "broker", inside_only=True),
    _A("ipc-unsolicited-reply", "ipc", "answer a request that was never made",
       "sock.send(protocol.encode(protocol.Pong(renderer=RENDERER, seq=424242)))\n"
       "sock.poll(5000); result = 'not ended'", "broker", inside_only=True),
)


#: What a compromised renderer writes into every field of its frames: an OSC
#: 52 clipboard write, an OSC 0 window title, a CSI that clears the screen, a
#: C1 CSI, DEL and a right-to-left override.
TERMINAL_ESCAPES = "\x1b]52;c;aGk=\x07\x1b]0;pwned\x07\x1b[2J\x9b31m\x7f\u202e"

# A renderer's message loop replaced by one that answers every request with
# a frame whose every string carries TERMINAL_ESCAPES (the frame's URL is the
# one the broker committed, which the runner makes hostile too).
_FRAME_ESCAPES_CODE = f"""\
E = {TERMINAL_ESCAPES!r}
url = 'about:blank'
while True:
    message = protocol.to_renderer_decoder.decode(sock.recv())
    if isinstance(message, protocol.Shutdown):
        os._exit(0)
    if isinstance(message, protocol.LoadDocument):
        url = message.url
    request = getattr(message, 'request', None)
    if request is None:
        continue
    document = getattr(message, 'document', 0)
    frame = protocol.Frame(
        url=url, title='title' + E, width=80, kind='html',
        lines=[protocol.Line([protocol.Span('text' + E), protocol.Span('link' + E, protocol.Style.LINK, 1, 0)]),
               protocol.Line([protocol.Span('field' + E, protocol.Style.FORM, 0, 1)])],
        links=[protocol.Link(number=1, url='http://example.test/' + E, text='link' + E, line=0)],
        fields=[protocol.FormField(id=1, kind='select', name='name' + E, value='value' + E,
                                   options=['option' + E], line=1)])
    if isinstance(message, protocol.Find):
        sock.send(protocol.encode(protocol.FindResult(document=document, request=request, matches=[(0, 0, 4)], frame=frame)))
    else:
        sock.send(protocol.encode(protocol.FrameReady(document=document, request=request, frame=frame)))
"""

TAB_ATTACKS: tuple[Attack, ...] = (
    _A("frame-escapes", "browser", "terminal escapes in every frame field",
       _FRAME_ESCAPES_CODE, "broker (safe text)", inside_only=True, serves_tab=True),
)

# -- the browser half of the sandbox ---------------------------------------------
# From Chromium's docs/security/compromised-renderers.md: a compromised
# renderer lies to the broker.  Each attack runs in a renderer that (when
# ``commits_document``) was handed a document at COMMITTED_URL, like a page
# renderer, and answers the broker's request with a lie; the broker must end
# it by the named reason.  ``tests/security/test_browser_attacks.py`` shows
# that the same renderer telling the truth is answered normally.

COMMITTED_URL = "https://committed.example/"

BROWSER_HELPERS = '''\
import msgspec
COMMITTED_URL = %r
RENDERER = globals().get("RENDERER", globals().get("renderer"))  # set by the preamble, or the renderer's own

def next_request():
    """The broker's next message to this renderer, or None if none comes."""
    return protocol.to_renderer_decoder.decode(sock.recv()) if sock.poll(5000) else None

def send(message):
    sock.send(protocol.encode(message))

def frame(url, **fields):
    return protocol.Frame(url=url, title="", width=80, lines=fields.pop("lines", []), **fields)

def ended_by_the_broker():
    """Wait to be ended; if the broker lets this renderer live, the attack worked."""
    sock.poll(5000)
    return "not ended"
''' % COMMITTED_URL


def _browser(name: str, description: str, code: str, expected: str, *, commits_document: bool = True) -> Attack:
    return Attack(name, "browser", description, BROWSER_HELPERS + code + "\nresult = ended_by_the_broker()\n",
                  "broker", inside_only=True, expected_bad_message=expected, commits_document=commits_document)


IPC_LIE_ATTACKS: tuple[Attack, ...] = (
    _browser("browser-read-file", "report file:///etc/ as the page's URL, then follow a link to file:///etc/passwd",
             "load = next_request()\n"
             "send(protocol.FrameReady(document=load.document, request=load.request, frame=frame('file:///etc/', links=["
             "protocol.Link(number=1, url='file:///etc/passwd')])))\n"
             "follow = next_request()\n"
             "if follow is not None:\n"
             "    send(protocol.NavigateRequest(document=follow.document, request=follow.request, url='file:///etc/passwd'))",
             "URL_MISMATCH"),
    _browser("browser-claim-url", "answer a load with a frame of another site",
             "load = next_request()\n"
             "send(protocol.FrameReady(document=load.document, request=load.request, frame=frame('https://bank.example/')))",
             "URL_MISMATCH"),
    _browser("browser-claim-document", "answer a load in the name of another document",
             "load = next_request()\n"
             "send(protocol.FrameReady(document=load.document + 1, request=load.request, frame=frame(load.url)))",
             "WRONG_DOCUMENT"),
    _browser("browser-wrong-reply", "answer a load with a sandbox report",
             "load = next_request()\n"
             "send(protocol.SandboxReport(renderer=RENDERER, request=load.request, layers=[]))",
             "WRONG_REPLY_TYPE"),
    _browser("browser-invalid-utf8", "send a frame whose title is not valid UTF-8",
             "load = next_request()\n"
             "payload = protocol.encode(protocol.FrameReady(document=load.document, request=load.request, "
             "frame=protocol.Frame(url=load.url, title='TITLE', width=80, lines=[])))\n"
             "sock.send(payload.replace(b'TITLE', b'\\xff\\xfe\\xfd\\xfc\\xfb'))",
             "INVALID_UTF8"),
    _browser("browser-deep-nesting", "send a frame nested 100,000 levels deep",
             "load = next_request()\n"
             "head = msgspec.msgpack.encode({'type': 'frame', 'document': load.document, 'request': load.request, 'frame': None})\n"
             "sock.send(head[:-1] + b'\\x91' * 100_000 + b'\\xc0')",
             "TOO_DEEP"),
    _browser("browser-multipart", "answer a load with a two-part ZeroMQ message",
             "load = next_request()\n"
             "sock.send_multipart([protocol.encode(protocol.FrameReady(document=load.document, request=load.request, "
             "frame=frame(load.url))), b'a second part'])",
             "MULTIPART"),
    _browser("browser-flood", "flood the broker with 1 MB heartbeat answers nobody asked for",
             "pong = msgspec.msgpack.encode({'type': 'pong', 'renderer': RENDERER, 'seq': 1, 'pad': 'x' * 2**20})\n"
             "for _ in range(200):\n"
             "    sock.send(pong)",
             "FLOOD", commits_document=False),
    _browser("browser-out-of-range", "answer a load with a frame of 2,000,000 lines",
             "load = next_request()\n"
             "send(protocol.FrameReady(document=load.document, request=load.request, "
             "frame=frame(load.url, lines=[protocol.Line([])] * 2_000_000)))",
             "OUT_OF_RANGE"),
    _browser("browser-forged-method", "ask the broker to navigate with method DELETE",
             "load = next_request()\n"
             "send(protocol.NavigateRequest(document=load.document, request=load.request, url='https://committed.example/x',"
             " method='DELETE'))",
             "FIELD_INVALID"),
)

BROWSER_ATTACKS = IPC_LIE_ATTACKS + TAB_ATTACKS
CATALOGUE = CATALOGUE + BROWSER_ATTACKS


# -- the network process -------------------------------------------------------
#
# Run inside a real network process (``network/``), started for the attack
# with the full sandbox, as code a hostile server got running there would
# run.  Besides the Target's names they see ``send(message)`` and
# ``send_raw(bytes)`` (anything, to the broker), ``next_fetch()`` (the next
# request the broker makes of it) and ``protocol`` (``network/protocol.py``).
# Part of the ``network`` category: what the network may reach, from either side.

def _net(name: str, description: str, code: str, layer: str, *, loads_page: bool = False,
         expected_bad_message: str | None = None) -> Attack:
    return Attack(name, "network", description, code, layer, process="network", loads_page=loads_page,
                  expected_bad_message=expected_bad_message)


_FORGED_HEAD = "f = next_fetch()\nsend(protocol.Head(request=f.request, status={status}, headers={headers}))\n"

NETWORK_PROCESS_ATTACKS: tuple[Attack, ...] = (
    _net("netproc-read-secret", "network process: read a secret file planted by the test",
         "result = open(SECRET_PATH, 'rb').read()", "landlock"),
    _net("netproc-read-profile", "network process: read the browser profile",
         "result = open(PROFILE_PATH, 'rb').read(64)", "landlock"),
    _net("netproc-write-file", "network process: create and write a file",
         "f = open(os.path.join(SCRATCH_DIR, 'netproc'), 'wb'); f.write(b'x'); f.close(); result = 'written'",
         "landlock"),
    _net("netproc-unix-socket", "network process: connect to the broker's UNIX socket",
         "import socket\ns = socket.socket(socket.AF_UNIX); s.connect(BROKER_SOCKET); result = 'connected'",
         "seccomp"),
    _net("netproc-kill-broker", "network process: send a signal to the broker",
         "os.kill(BROKER_PID, signal.SIGCONT); result = 'signalled'", "seccomp+landlock"),
    _net("netproc-kill-renderer", "network process: send a signal to a tab's renderer",
         "os.kill(SIBLING_PID, signal.SIGCONT); result = 'signalled'", "seccomp+landlock"),
    _net("netproc-execve", "network process: run /bin/true",
         "os.execv('/bin/true', ['/bin/true'])", "seccomp"),
    _net("netproc-fork", "network process: fork a process",
         "pid = os.fork(); child_exits_at_once(pid); result = pid", "seccomp"),
    _net("netproc-bind", "network process: listen on a TCP port",
         "import socket\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); result = s.getsockname()",
         "seccomp+landlock"),
    _net("netproc-redirect-to-file", "network process: forge a redirect to file:///etc/passwd",
         _FORGED_HEAD.format(status=302, headers="[protocol.Header(name='location', value='file:///etc/passwd')]")
         + "send(protocol.Done(request=f.request)); result = 'forged'",
         "broker (navigation policy)", loads_page=True),
    _net("netproc-longer-than-declared", "network process: send a body longer than its Content-Length",
         _FORGED_HEAD.format(status=200, headers="[protocol.Header(name='content-length', value='5')]")
         + "send(protocol.Body(request=f.request, data=b'0123456789')); next_fetch()",
         "broker (network checks)", loads_page=True, expected_bad_message="LONGER_THAN_DECLARED"),
    _net("netproc-unrequested-reply", "network process: answer a request that was never made",
         "send(protocol.Head(request=999999, status=200, headers=[])); next_fetch()",
         "broker (network checks)", expected_bad_message="UNEXPECTED_REPLY"),
    _net("netproc-flood", "network process: flood a load with body past its budget",
         _FORGED_HEAD.format(status=200, headers="[]")
         + "while True: send(protocol.Body(request=f.request, data=b'x' * protocol.MAX_CHUNK_BYTES))",
         "broker (network checks)", loads_page=True, expected_bad_message="OVER_BUDGET"),
    _net("netproc-oversized-message", "network process: send a 2 GiB message",
         "send_raw((2 ** 31).to_bytes(4, 'big') + b'x' * 65536); next_fetch()",
         "broker (network checks)", expected_bad_message="TOO_LARGE"),
)


def constants(*, spin_seconds: float, huge_file_fd: int, tty_fd: int) -> str:
    """Module-level names some attacks use, besides the Target's."""
    lines = [f"NR_{name} = {number}" for name, number in NR.items()]
    lines += [f"SPIN_SECONDS = {spin_seconds!r}", f"HUGE_FILE_FD = {huge_file_fd}", f"TTY_FD = {tty_fd}"]
    return "\n".join(lines) + "\n"


# -- frames: a compromised parent renderer against its cross-site child ------------
# Each runs as the renderer of a page on site A (``browser/frame_attacks.py``
# serves it, and a child page on site B with SECRET in it): it answers the
# page's load with a frame that has one slot, whose src is CHILD_URL, and then
# tries its attack.  Where the model puts the child in the parent's renderer
# (no site isolation) some succeed: that is what isolation buys.
FRAME_HELPERS = BROWSER_HELPERS + '''\
def slot_frame(url, src):
    return frame(url, lines=[protocol.Line([protocol.Span("[frame 1]")])],
                 slots=[protocol.FrameSlot(index=1, src=src, line=0, columns=40, rows=5)])
def serve_page(src):
    """Answer the page's load with a slot for ``src``; returns the page's load."""
    load = next_request()
    send(protocol.FrameReady(document=load.document, request=load.request, frame=slot_frame(load.url, src)))
    return load
def child_load(wait_ms=2000):
    """The broker's load of the child into this renderer, or None if none comes."""
    while sock.poll(wait_ms):
        message = protocol.to_renderer_decoder.decode(sock.recv())
        if isinstance(message, protocol.LoadDocument):
            return message
    return None
'''


@dataclass(frozen=True)
class FrameAttack:
    name: str
    description: str
    code: str  # sees CHILD_URL and the FRAME_HELPERS


FRAME_ATTACKS: tuple[FrameAttack, ...] = (
    FrameAttack("frame-read-child", "read a cross-site child frame's text",
                "serve_page(CHILD_URL)\n"
                "load = child_load()\n"
                "if load is None:\n"
                "    result = 'nothing of the child reached this renderer'\n"
                "else:\n"
                "    send(protocol.FrameReady(document=load.document, request=load.request, frame=frame(load.url)))\n"
                "    result = 'READ: ' + load.body.decode('utf-8', 'replace')\n"),
    FrameAttack("frame-forge-child", "forge a cross-site child frame's content",
                "page = serve_page(CHILD_URL)\n"
                "load = child_load()\n"
                "forged = frame(CHILD_URL, lines=[protocol.Line([protocol.Span('FORGED BY THE PARENT')])])\n"
                "if load is not None:\n"
                "    send(protocol.FrameReady(document=load.document, request=load.request, frame=forged))\n"
                "    result = 'FORGED'\n"
                "else:  # speak for the child's frame in another renderer: the next id the broker gave out\n"
                "    send(protocol.FrameReady(document=page.document + 1, request=page.request, frame=forged))\n"
                "    result = ended_by_the_broker()\n"),
    FrameAttack("frame-child-to-file", "navigate a child frame to file:///etc/passwd",
                "serve_page('file:///etc/passwd')\n"
                "load = child_load()\n"
                "result = 'READ: ' + load.body.decode('utf-8', 'replace') if load is not None else 'no file came'\n"),
    FrameAttack("frame-claim-child", "claim to be the cross-site child: answer its own load with the child's URL",
                "load = next_request()\n"
                "send(protocol.FrameReady(document=load.document, request=load.request, frame=frame(CHILD_URL)))\n"
                "result = ended_by_the_broker()\n"),
)


def by_name(names: list[str]) -> list[Attack]:
    """The attacks called ``names`` (all of them for an empty list)."""
    everything = CATALOGUE + NETWORK_PROCESS_ATTACKS
    if not names:
        return list(everything)
    known = {attack.name: attack for attack in everything}
    categories = {attack.category for attack in everything}
    chosen: list[Attack] = []
    for name in names:
        if name in known:
            chosen.append(known[name])
        elif name in categories:
            chosen.extend(a for a in everything if a.category == name)
        else:
            raise KeyError(name)
    return chosen
