"""A tripwire inside the graded process: what student code may not do, refused where Python does it.

The exercise checker's child process (:mod:`mmoe_np._check_runner`) installs this before it runs
a student's file. It is one layer of several (see :mod:`mmoe_np.sandbox`): the operating system's
layers -- bubblewrap's namespaces and read-only mounts, a separate user id, resource limits --
hold whatever the code does; this one sees what the code asks Python to do and turns a forbidden
request into a clear verdict instead of a mysterious failure. It refuses:

- importing the library that holds the reference answers (``mmoe_np``) by any Python route --
  ``import``, ``from``, ``__import__``, ``importlib``, ``sys.modules`` -- or reading any file of
  the course (the library's source, the solutions, the instructor's notes);
- writing, deleting or renaming anything outside the process's own temporary folder, and links;
- looking at other processes (``/proc/<pid>``), signalling them, starting programs or processes,
  opening sockets, raising resource limits;
- native code (``ctypes``, ``cffi``, ``_posixsubprocess``) unless the exercise needs it (numba), and
  then no new library through ctypes -- a numba exercise is held by the operating system's layers
  (bubblewrap, or the ``nobody`` user), which is why ``--sandbox require`` is the way to grade;
- walking the garbage collector's objects (the way to reach this hook's own state).

A refused request ends the process at once with :data:`REFUSED` as its exit status, after
writing the reason to the result channel; the checker then reports ERROR with that reason.

Python's audit hooks (PEP 578) cannot be removed once added, but they are not a security
boundary on their own: code that reaches native memory can get around them. That is why
ctypes is refused, and why the checker adds the operating system's layers underneath.
Standalone: this file imports nothing from ``mmoe_np`` (the child must not).
"""
import os
import sys

REFUSED = 86                        # the child's exit status after a refusal
LIBRARY = "mmoe_np"
EVENT = "mmoe_np.check.refused"       # raised by the finder and the tripwire below

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_SPAWN = {"os.exec", "os.posix_spawn", "os.spawn", "os.system", "subprocess.Popen", "os.fork", "os.forkpty",
          "pty.spawn", "os.startfile"}
_WRITES = {"os.remove": 1, "os.rmdir": 1, "os.mkdir": 1, "os.chmod": 1, "os.chown": 1, "os.utime": 1,
           "os.mkfifo": 1, "os.mknod": 1, "os.setxattr": 1, "os.removexattr": 1, "shutil.rmtree": 1,
           "os.rename": 2, "os.truncate": 1, "os.chflags": 1, "os.lchflags": 1, "os.lchmod": 1}
_NEVER = {"os.link": "makes a hard link", "os.symlink": "makes a symbolic link",
          "os.killpg": "signals a process group", "resource.setrlimit": "changes a resource limit",
          "resource.prlimit": "changes a resource limit", "gc.get_objects": "walks the garbage collector",
          "gc.get_referrers": "walks the garbage collector", "gc.get_referents": "walks the garbage collector",
          "socket.__new__": "opens a socket", "socket.connect": "opens a network connection",
          "socket.bind": "opens a network socket", "sys.remote_exec": "attaches to a process"}
_NATIVE_SYMBOLS = ("LLVMPY_", "_Py_HashSecret")     # what numba's compiler looks up through ctypes
# modules that reach native code or start processes without an audit event of their own
_NATIVE_MODULES = {"_posixsubprocess", "cffi", "_cffi_backend", "_testcapi", "_testinternalcapi",
                   "_xxsubinterpreters", "_xxinterpchannels", "_ctypes"}
_SPAWNERS = (("_posixsubprocess", "fork_exec"), ("subprocess", "_fork_exec"))   # unaudited fork + exec


def frame(payload: bytes) -> bytes:
    """One message on the result channel: its length (8 bytes, big-endian), then the bytes."""
    return len(payload).to_bytes(8, "big") + payload


def install(sandbox, deny=(), allow=(), result_fd=None, native=False):
    """Install the tripwire in this process (once; it cannot be removed).

    sandbox:   the one folder the code may write to.
    deny:      folders and files the code may not read (the course: library, solutions, notes).
    allow:     folders inside a denied one that may be read (the Python installation, e.g. a
               virtual environment inside the course's folder); the most specific rule wins.
    result_fd: where the reason for a refusal is written before the process ends.
    native:    allow ctypes (numba's compiler needs it), but never a new library.
    """
    realpath, fsdecode, getpid, _exit, write = os.path.realpath, os.fsdecode, os.getpid, os._exit, os.write
    dumps = __import__("json").dumps
    import pathlib
    path_types = (str, bytes, pathlib.Path, pathlib.PosixPath, pathlib.PurePath, pathlib.PurePosixPath)
    sandbox = realpath(sandbox)
    rules = sorted([(realpath(p), False) for p in deny] + [(realpath(p), True) for p in allow],
                   key=lambda rule: len(rule[0]), reverse=True)
    writable = (sandbox, "/dev/null")
    own_proc = ("/proc/self", f"/proc/{getpid()}", "/proc/thread-self")
    busy = []

    def refuse(why):
        if result_fd is not None:
            try:
                write(result_fd, frame(dumps({"refused": why}).encode()))
            except OSError:
                pass
        _exit(REFUSED)

    def under(path, root):
        return path == root or path.startswith(root.rstrip("/") + "/")

    def resolve(path):
        """The real path of a str/bytes/pathlib path (None for an open file descriptor)."""
        if type(path) is int:
            return None
        if type(path) not in path_types:                 # a custom __fspath__ could answer differently twice
            refuse(f"opens a path given as a {type(path).__name__} object; use a str or pathlib.Path")
        return realpath(fsdecode(path) if type(path) is bytes else str(path))

    def check_read(path):
        real = resolve(path)
        if real is None:
            return
        if under(real, "/proc") and not any(under(real, p) for p in own_proc) and real[6:7].isdigit():
            refuse(f"looks at another process ({real})")
        for root, allowed in rules:
            if under(real, root):
                if not allowed:
                    refuse(f"reads {real}, a file of the course (graded work cannot use the library's reference "
                           "answers, the solutions or the instructor's notes)")
                return

    def check_write(path, what="writes"):
        real = resolve(path)
        if real is not None and not any(under(real, w) for w in writable):
            refuse(f"{what} {real}, outside its own temporary folder (graded code may write only there)")

    def hook(event, args):
        if busy:                                          # os.path.realpath's own calls
            return
        busy.append(1)
        try:
            _check(event, args)
        finally:
            busy.pop()

    def _check(event, args):
        if event == "open":
            path, mode, flags = args
            writing = bool((flags or 0) & _WRITE_FLAGS) or (isinstance(mode, str) and any(c in mode for c in "wax+"))
            if writing:
                check_write(path)
            check_read(path)
        elif event == "import":
            name = args[0] or ""
            if name == LIBRARY or name.startswith(LIBRARY + "."):
                refuse(f"imports {name}, {USE}")
            if name.split(".")[0] in _NATIVE_MODULES and not native:      # numba's compiler may import cffi
                refuse(f"imports {name}, which reaches native code or starts processes unseen (graded code may not)")
        elif event == EVENT:
            refuse(str(args[0]))
        elif event in _WRITES:
            for path in args[:_WRITES[event]]:
                check_write(path, {"os.remove": "deletes", "os.rmdir": "deletes", "shutil.rmtree": "deletes",
                                   "os.rename": "renames"}.get(event, "changes"))
        elif event in _SPAWN:
            refuse("starts another program or process (graded code runs alone)")
        elif event == "os.kill":
            if args[0] != getpid():
                refuse(f"sends signal {args[1]} to process {args[0]} (graded code may signal only itself)")
        elif event in _NEVER:
            refuse(_NEVER[event])
        elif event.startswith("ctypes."):
            if not native:
                refuse(f"uses native code ({event}); graded code is plain Python and NumPy")
            if event == "ctypes.dlopen" or (event == "ctypes.dlsym" and not str(args[1]).startswith(_NATIVE_SYMBOLS)):
                refuse(f"loads native code ({event} {args[1] if len(args) > 1 else args[0]})")
        elif event == "sys.addaudithook":
            return                                        # theirs runs after this one, which cannot be removed

    sys.addaudithook(hook)
    for module, name in _SPAWNERS:                       # already imported (NumPy imports subprocess)
        if hasattr(sys.modules.get(module), name):
            setattr(sys.modules[module], name, _no_spawn)
    sys.meta_path.insert(0, _LibraryFinder())
    tripwire = _Tripwire(LIBRARY)
    del tripwire.__spec__                      # so that even a bare ``import mmoe_np`` asks for it
    sys.modules[LIBRARY] = tripwire


USE = "which holds the reference answers (graded work must be your own code)"


def _no_spawn(*args, **kwargs):
    """In place of ``_posixsubprocess.fork_exec``, which forks and executes without an audit event."""
    sys.audit(EVENT, "starts another program or process (graded code runs alone)")
    raise PermissionError("graded code cannot start processes")


class _LibraryFinder:
    """First on ``sys.meta_path``: finding any module of the library is refused.

    It reports through an audit event, so that nothing reachable from student code holds the
    hook's own state; if the code removes this finder, the hook still sees the files being read.
    """

    def find_spec(self, name, path=None, target=None):
        if name == LIBRARY or name.startswith(LIBRARY + "."):
            sys.audit(EVENT, f"imports {name}, {USE}")
            raise ImportError(f"{name} cannot be imported by graded work")
        return None


class _Tripwire(type(sys)):
    """``sys.modules["mmoe_np"]``: importing or using it (an attribute, a submodule) is refused.

    Looking for its ``__file__`` or ``__loader__`` is not (``inspect`` and ``pickle`` ask every module).
    """

    def __getattr__(self, attribute):
        if attribute not in ("__file__", "__loader__", "__package__", "__wrapped__"):
            what = f"imports {LIBRARY}" if attribute == "__spec__" else f"uses {LIBRARY}.{attribute}"
            sys.audit(EVENT, f"{what}, {USE}")
        raise AttributeError(attribute)
