"""Run a student's file contained: the layers the exercise checker puts around untrusted code.

Grading tools treat student code as hostile (nbgrader and otter-grader grade inside
containers). :func:`run` starts :mod:`mmoe_np._check_runner` on one file with these layers:

**Always**

- a fresh temporary folder holding copies of the one file (and of the student's own earlier
  exercises it imports), never the student's folder; ``python -I -B`` (no current folder, no
  user site, no environment variables on ``sys.path``);
- resource limits: address space, CPU time, file size, open files, no core dumps, and no new
  processes or threads at all (``RLIMIT_NPROC`` 0, kernel-enforced for any non-root user);
- when the checker runs as root, the child runs as ``nobody`` -- inside bubblewrap always (it
  drops root itself), without bubblewrap when ``nobody`` can run this Python -- so the operating
  system itself keeps it off the checker's files and processes (and ``RLIMIT_NPROC`` binds it);
- output read as it streams and capped (the first and last :attr:`Limits.output_kib` / 2 KiB
  are kept, the rest dropped), results capped at :attr:`Limits.result_mib`;
- the whole process group killed when the child ends or times out; the child asks the kernel
  to die with the checker; nothing it started can outlive it (it cannot start anything);
- results come back through a pipe the checker owns and holds no secret in the child: the
  expected values never leave the checker, so nothing the child reads or writes can forge a
  verdict (:mod:`mmoe_np._check_runner`);
- the tripwire of :mod:`mmoe_np._check_guard` refuses, with a reason, what Python code may not
  do (import the library's reference answers, read the course's files, write outside its
  folder, look at or signal other processes, start programs, native code).

**Where Linux allows it: bubblewrap** (``bwrap``, Debian package ``bubblewrap``): new PID, network,
IPC and UTS namespaces, and a user namespace when the checker is not root (no view of other
processes, no network), capabilities dropped, only the system
and Python's own folders mounted, read-only, with the library's own files hidden; a private
``/tmp``; a new session; the sandbox dies with the checker (``--die-with-parent``) and everything
in it dies with its first process.

``mode``: ``"require"`` refuses to grade without bubblewrap, ``"auto"`` (the default) uses it
when it works and says plainly when it does not, ``"off"`` does not use it. macOS has every layer
but bubblewrap and the Linux-only ``prctl`` calls; on Windows the checker gives feedback with
fewer layers (:data:`WINDOWS`) and is not meant for grading.
"""
from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from . import _check_guard

HERE = Path(__file__).resolve().parent
MODES = ("require", "auto", "off")
NOBODY = 65534
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ld.so.cache", "/etc/ld.so.conf",
          "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/localtime", "/etc/passwd", "/etc/group",
          "/etc/nsswitch.conf")


class SandboxUnavailable(Exception):
    """``--sandbox require`` and bubblewrap does not work here (the message says why)."""


@dataclass(frozen=True)
class Limits:
    """What one student file may use."""

    timeout: float = 60.0          # wall-clock seconds for the whole child
    memory_mib: int = 4096         # address space (numba's compiler alone maps about 1 GiB)
    file_mib: int = 64             # largest file it may write
    open_files: int = 256
    output_kib: int = 64           # printed output kept for messages (the rest is read and dropped)
    result_mib: int = 64           # largest result it may send back

    def for_child(self):
        return {"memory_bytes": self.memory_mib * 2**20, "cpu_seconds": int(math.ceil(self.timeout)) + 1,
                "file_bytes": self.file_mib * 2**20, "open_files": self.open_files}


@dataclass
class Child:
    """How the child ended and what it sent back."""

    returncode: int | None         # None: killed at the time-out; < 0: ended by that signal
    result: bytes                  # the result channel's bytes (capped)
    result_overflow: bool          # the child sent more than Limits.result_mib
    output: str                    # the head and tail of what it printed
    printed: int                   # how many bytes it printed in all

    @property
    def timed_out(self):
        return self.returncode is None

    def frames(self):
        """The result channel as frames, or None if it holds anything else (or was cut)."""
        data, frames = self.result, []
        while data:
            if len(data) < 8:
                return None
            size = int.from_bytes(data[:8], "big")
            if len(data) < 8 + size:
                return None
            frames.append(data[8:8 + size])
            data = data[8 + size:]
        return None if self.result_overflow else frames


# ----------------------------------------------------------------------------- what is here
def _probe(command, **kwargs):
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, **kwargs)
    except (OSError, subprocess.SubprocessError) as err:
        return None, str(err)
    return done.returncode, (done.stdout.strip(), done.stderr.strip())


def is_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


@functools.cache
def child_user():
    """Without bubblewrap: ``(uid, gid)`` of ``nobody`` when this process is root and ``nobody`` can run
    this Python (its installation readable, NumPy importable), else None: the child keeps our user.
    (Inside bubblewrap a root checker's child always becomes ``nobody``: see :func:`bwrap_command`.)"""
    if not is_root():
        return None
    code, out = _probe([sys.executable, "-I", "-c", "import sys, numpy; print(sys.base_prefix)"], cwd="/",
                       user=NOBODY, group=NOBODY, extra_groups=[])
    return (NOBODY, NOBODY) if code == 0 and out[0] == sys.base_prefix else None


@functools.cache
def bwrap_problem():
    """None when bubblewrap works here, else a one-line reason."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap)"
    folder = tempfile.mkdtemp(prefix="mmoe-check-probe-")
    try:
        drop = f"import os; os.setgroups([]); os.setgid({NOBODY}); os.setuid({NOBODY}); " if is_root() else ""
        code, out = _probe(bwrap_command(folder, deny=()) + [sys.executable, "-I", "-c", drop + "import numpy"],
                           cwd=folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if code == 0:
        return None
    detail = out if code is None else (out[1].splitlines() or [f"exit status {code}"])[-1]
    return f"bubblewrap cannot make its sandbox here ({detail})"


def layers(mode="auto"):
    """``(use bubblewrap?, one line saying which layers contain the student's code)``."""
    if mode not in MODES:
        raise ValueError(f"sandbox mode must be one of {MODES}, got {mode!r}")
    problem = None if mode == "off" else bwrap_problem()
    if mode == "require" and problem:
        raise SandboxUnavailable(f"--sandbox require: {problem}")
    use = mode != "off" and problem is None
    who = ("as nobody" if (use and is_root()) or child_user() else
           "as root (nobody cannot run this Python)" if is_root() else "as this user")
    base = f"limits, a fresh folder, no new processes, the tripwire; student code runs {who}"
    if use:
        return True, f"sandbox: bubblewrap (namespaces, read-only system, library hidden) + {base}"
    why = "--sandbox off" if mode == "off" else problem
    return False, f"sandbox: NO bubblewrap ({why}); only {base}"


# ------------------------------------------------------------------------------- the command
def python_roots():
    """The folders of this Python installation (and its virtual environment), which the child needs."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(sys.executable).resolve().parent.parent)}
    return sorted(r for r in roots if r and os.path.isdir(r))


def _under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def bwrap_command(folder, deny):
    """bubblewrap's arguments: system and Python read-only, the library hidden, ``folder`` writable.

    Run by an ordinary user, bubblewrap makes a user namespace too. Run by root it does not (a
    namespace would map only root), keeps just the capabilities to change user, and the child
    (:mod:`mmoe_np._check_runner`) becomes ``nobody`` before it reads anything: the kernel then
    holds it to ``nobody``'s rights and to no new processes (``RLIMIT_NPROC`` does not bind root).
    """
    if is_root():
        command = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                   "--unshare-cgroup-try", "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        command = ["bwrap", "--unshare-all", "--cap-drop", "ALL"]
    command += ["--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in SYSTEM:
        command += ["--ro-bind-try", path, path]
    roots = python_roots()
    made = set()
    for path in roots + [str(folder)]:                   # bubblewrap would make their parents 0700
        for parent in reversed(Path(path).parents[:-1] if Path(path).is_absolute() else []):
            if str(parent) not in made and not any(_under(str(parent), s) for s in SYSTEM if s != "/"):
                made.add(str(parent))
                command += ["--dir", str(parent)]
    for root in roots:
        command += ["--ro-bind", root, root]
    for path in map(os.path.realpath, deny):             # e.g. a non-editable install in site-packages
        if os.path.exists(path) and any(_under(path, r) and path != r for r in roots + list(SYSTEM)):
            command += ["--tmpfs", path] if os.path.isdir(path) else ["--ro-bind", "/dev/null", path]
    return command + ["--bind", str(folder), str(folder), "--chdir", str(folder)]


def _user_kwargs(user):
    return {} if user is None else {"user": user[0], "group": user[1], "extra_groups": []}


def course_paths():
    """What graded code may not read: the library, and the whole checkout if this is one (lessons,
    solutions, instructor's notes) with its git history (which holds the solutions too) -- also
    when the checkout is a git worktree, whose history lives elsewhere."""
    package = HERE
    checkout = package.parent
    if not (checkout / "lessons").is_dir():
        return [str(package)]
    paths = [str(checkout)]
    git = checkout / ".git"
    if git.is_file():                                    # a worktree: "gitdir: <main>/.git/worktrees/<name>"
        text = git.read_text(errors="replace").strip()
        if text.startswith("gitdir:"):
            gitdir = (checkout / text[len("gitdir:"):].strip()).resolve()
            common = gitdir / "commondir"
            paths.append(str(gitdir))
            if common.is_file():
                paths.append(str((gitdir / common.read_text().strip()).resolve()))
    return paths


# ----------------------------------------------------------------------------- running it
_LIVE = set()
_LIVE_LOCK = threading.Lock()
_STOPPED = threading.Event()


class Stopped(Exception):
    """The checker is stopping: no new child is started."""


def kill_all():
    """Kill every child still running and start no new one (the checker was told to stop)."""
    _STOPPED.set()
    with _LIVE_LOCK:
        procs = list(_LIVE)
    for proc in procs:
        _kill(proc)


def resume():
    """Allow children again (after :func:`kill_all`; for a new batch in the same process)."""
    _STOPPED.clear()


@contextlib.contextmanager
def hidden_from_our_user(use_bwrap):
    """While checking: when the child runs as our own user without bubblewrap, make this process
    non-dumpable (``PR_SET_DUMPABLE`` 0), so that the same user's processes cannot open its
    ``/proc/<pid>/fd`` or ``/mem`` -- the checker's output and memory stay its own."""
    same_user = not use_bwrap and not is_root()
    libc = None
    if same_user and sys.platform.startswith("linux"):
        import ctypes
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(4, 0, 0, 0, 0)                    # 4 = PR_SET_DUMPABLE
        except (OSError, AttributeError):
            libc = None
    try:
        yield
    finally:
        if libc is not None:
            libc.prctl(4, 1, 0, 0, 0)


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)              # the child leads its own session and group
    except (ProcessLookupError, PermissionError, AttributeError):
        pass
    try:
        proc.kill()
    except OSError:
        pass


def run(task, npz, files, limits, use_bwrap, deny=()):
    """Run the child on ``files`` ({name in the folder: text}) with ``task`` (a dict) and ``npz`` on its stdin.

    Returns a :class:`Child`; never leaves a process or a file behind.
    """
    if _STOPPED.is_set():
        raise Stopped("the checker is stopping")
    folder = Path(tempfile.mkdtemp(prefix="mmoe-check-"))
    read_end = None
    try:
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        shutil.copyfile(HERE / "_check_runner.py", folder / "_runner.py")
        shutil.copyfile(HERE / "_check_guard.py", folder / "_guard.py")
        user = None if use_bwrap else child_user()       # nobody from the start (no bubblewrap)
        inside = (NOBODY, NOBODY) if use_bwrap and is_root() else None   # nobody inside bubblewrap
        if user or inside:
            os.chown(folder, *(user or inside))          # its own scratch space; our copies stay ours
        if inside:
            os.chmod(folder, 0o755)                      # bubblewrap enters it as root without DAC override;
                                                         # inside, no other sandbox can see it
        env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "TMPDIR": str(folder), "LANG": "C.UTF-8",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "NUMBA_NUM_THREADS": "1", "NUMBA_CACHE_DIR": str(folder), "MPLBACKEND": "Agg"}
        if os.name == "nt":                              # no fd passing: a file (feedback only, see WINDOWS)
            env.update(SYSTEMROOT=os.environ.get("SYSTEMROOT", ""), MMOE_CHECK_RESULT_FILE=str(folder / "result.bin"))
            return _run_windows(task, npz, folder, env, limits)
        read_end, write_end = os.pipe()
        env["MMOE_CHECK_RESULT_FD"] = str(write_end)
        command = [sys.executable, "-I", "-B", str(folder / "_runner.py")]
        if use_bwrap:
            command = bwrap_command(folder, deny) + command
        stdin = _check_guard.frame(json.dumps(dict(task, user=inside)).encode()) + _check_guard.frame(npz)
        try:
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    pass_fds=(write_end,), cwd=folder, env=env, start_new_session=True,
                                    **_user_kwargs(user))
        finally:
            os.close(write_end)
        with _LIVE_LOCK:
            _LIVE.add(proc)
        if _STOPPED.is_set():                            # stopped while it was starting
            _kill(proc)
        try:
            return _collect(proc, stdin, read_end, limits)
        finally:
            _kill(proc)
            with _LIVE_LOCK:
                _LIVE.discard(proc)
    finally:
        if read_end is not None:
            os.close(read_end)
        _remove(folder)


WINDOWS = """On Windows the child cannot be given a pipe of its own, so it writes its results to a file
in its folder, and there are no resource limits, no process group and no bubblewrap: enough for a
student's feedback on their own work, not for grading a class (grade on Linux)."""


def _run_windows(task, npz, folder, env, limits):            # pragma: no cover - tested on Linux only
    stdin = _check_guard.frame(json.dumps(dict(task, user=None)).encode()) + _check_guard.frame(npz)
    proc = subprocess.Popen([sys.executable, "-I", "-B", str(folder / "_runner.py")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=folder, env=env)
    with _LIVE_LOCK:
        _LIVE.add(proc)
    try:
        child = _collect(proc, stdin, None, limits)
    finally:
        _kill(proc)
        with _LIVE_LOCK:
            _LIVE.discard(proc)
    result = folder / "result.bin"
    data = result.read_bytes()[:limits.result_mib * 2**20 + 1] if result.exists() else b""
    child.result, child.result_overflow = data[:limits.result_mib * 2**20], len(data) > limits.result_mib * 2**20
    return child


def _collect(proc, stdin, read_end, limits):
    out = {"head": bytearray(), "tail": bytearray(), "printed": 0, "result": bytearray(), "overflow": False}
    half = limits.output_kib * 512

    def feed():
        try:
            proc.stdin.write(stdin)
            proc.stdin.close()
        except OSError:                                  # it ended before reading its task
            pass

    def drain():                                         # read everything, keep the head and the tail
        while chunk := proc.stdout.read1(1 << 16):
            out["printed"] += len(chunk)
            room = half - len(out["head"])
            if room > 0:
                out["head"] += chunk[:room]
                chunk = chunk[room:]
            out["tail"] = (out["tail"] + chunk)[-half:]

    def receive():
        cap = limits.result_mib * 2**20
        while read_end is not None and (chunk := os.read(read_end, 1 << 16)):
            if len(out["result"]) + len(chunk) > cap:
                out["overflow"] = True
                continue                                 # keep reading so that the child never blocks
            out["result"] += chunk

    threads = [threading.Thread(target=f, daemon=True) for f in (feed, drain, receive)]
    for t in threads:
        t.start()
    try:
        returncode = proc.wait(timeout=limits.timeout)
    except subprocess.TimeoutExpired:
        returncode = None
    _kill(proc)
    proc.wait()
    for t in threads:
        t.join(timeout=5)
    output = bytes(out["head"])
    if out["printed"] > len(out["head"]) + len(out["tail"]):
        output += b"\n[...]\n"
    output += bytes(out["tail"]) if out["printed"] > len(out["head"]) else b""
    return Child(returncode, bytes(out["result"]), out["overflow"], output.decode("utf-8", "replace"),
                 out["printed"])


def _remove(folder):
    """Delete the temporary folder, whatever the child did to its permissions."""
    for root, dirs, _ in os.walk(folder):
        for d in dirs:
            try:
                os.chmod(os.path.join(root, d), 0o700)
            except OSError:
                pass
    shutil.rmtree(folder, ignore_errors=True)
