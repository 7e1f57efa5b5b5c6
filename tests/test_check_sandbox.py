"""A student's code cannot change a verdict or harm the grader, its machine or other students.

Every hostile case runs with bubblewrap where this machine has it ("auto") and without it
("off"): each must leave every verdict and every file as it was in both. Where bubblewrap is
missing, "auto" runs the always-on layers too, so both runs still test them.
"""
import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from checking import SOLUTIONS, solution

import mmoe_np
from mmoe_np import _check_runner, check, sandbox

ROOT = Path(__file__).resolve().parent.parent
MODES = ["auto", "off"]
TEMPLATE_02 = (SOLUTIONS.parent / "ex02_dense_backward.py").read_text()
RIGHT_02 = solution("ex02_dense_backward")


def snapshot(folder):
    """{file: sha256} of everything under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def lines(out):
    return [line for line in out.splitlines() if line.strip()]


def checker(args, timeout=600, **kwargs):
    """The checker in its own process (for attacks on the process itself)."""
    return subprocess.run([sys.executable, "-m", "mmoe_np.check", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, **kwargs)


def class_folder(tmp_path, **files):
    """A folder of students' files: {name: text}."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.py").write_text(text)
    return folder


# ------------------------------------------------------------------------ planted package
PLANT = """EXERCISE = 'dense_backward'
import pathlib
for folder in [pathlib.Path.cwd(), pathlib.Path(__file__).parent, pathlib.Path({cls!r})]:
    (folder / "mmoe_np").mkdir(exist_ok=True)
    (folder / "mmoe_np" / "__init__.py").write_text("")
    (folder / "mmoe_np" / "_check_runner.py").write_text("print('PASS')")
    (folder / "mmoe_np" / "exercises.py").write_text("EXERCISES = {{}}")
def dense_backward(dout, cache):
    raise NotImplementedError
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_planted_package_changes_no_classmate_verdict_and_no_file(tmp_path, capsys, mode):
    folder = class_folder(tmp_path, carol=TEMPLATE_02, dave=TEMPLATE_02, erin=RIGHT_02)
    folder.joinpath("alice.py").write_text(PLANT.format(cls=str(folder)))
    # a quieter variant plants only beside itself (in its own temporary folder), which is allowed
    folder.joinpath("bob.py").write_text(PLANT.format(cls=str(folder)).replace(", pathlib.Path(" + repr(str(folder)) +
                                                                               ")", ""))
    before = snapshot(folder)
    files = [folder / f"{n}.py" for n in ("alice", "bob", "carol", "dave", "erin")]
    check.main([str(f) for f in files] + ["--summary", "--sandbox", mode])
    out = lines(capsys.readouterr().out)
    assert out[0].startswith("ERROR dense_backward") and "refused" in out[0] and str(folder) in out[0], out
    assert [line.split()[0] for line in out[1:5]] == ["TODO", "TODO", "TODO", "PASS"], out
    assert out[5] == "5 files: 1 PASS, 3 TODO, 0 FAIL, 1 ERROR"
    assert snapshot(folder) == before and not (folder / "mmoe_np").exists()
    check.main([str(f) for f in files[2:]] + ["--sandbox", mode])          # and nothing persists
    assert [line.split()[0] for line in lines(capsys.readouterr().out)] == ["TODO", "TODO", "PASS"]


# --------------------------------------------------------- writes to the installed package
@pytest.mark.parametrize("mode", MODES)
def test_the_installed_package_and_site_packages_cannot_be_written(tmp_path, capsys, mode):
    import numpy
    gradcheck = Path(mmoe_np.__file__).parent / "gradcheck.py"
    planted = Path(numpy.__file__).parent.parent / "zzz_mmoe_planted_by_a_student.pth"
    mse = solution("ex03_mse").split('EXERCISE = "mse"')[1]
    attack = ("EXERCISE = 'mse'\nwith open({target!r}, 'a') as f:\n    f.write('\\n# planted by a student\\n')\n"
              + mse)
    folder = class_folder(tmp_path, mallory=attack.format(target=str(gradcheck)),
                          oscar=attack.format(target=str(planted)),
                          wrong=RIGHT_02.replace("x.T @ dout", "x.T @ dout / len(x)"))
    before = gradcheck.read_bytes()
    try:
        files = [folder / f"{n}.py" for n in ("mallory", "oscar", "wrong")]
        assert check.main([str(f) for f in files] + ["--sandbox", mode]) == 2
        out = lines(capsys.readouterr().out)
        assert out[0].startswith("ERROR mse") and f"refused: the file writes {gradcheck}" in out[0], out
        assert out[1].startswith("ERROR mse") and f"refused: the file writes {planted}" in out[1], out
        assert out[2].startswith("FAIL") and "average over the batch" in out[2], out     # the next check is honest
        assert gradcheck.read_bytes() == before and not planted.exists()
    finally:                                                    # never leave a planted file behind
        if gradcheck.read_bytes() != before:
            gradcheck.write_bytes(before)
        planted.unlink(missing_ok=True)


# ---------------------------------------------------------- processes that outlive the check
ESCAPE = """EXERCISE = 'dense_backward'
import os, pathlib, time
def attack():
    time.sleep(2)
    for victim in {victims!r}:
        try:
            pathlib.Path(victim).write_text("def dense_backward(dout, cache):\\n    return 0\\n")
        except OSError:
            pass
    for folder in pathlib.Path('/tmp').glob('mmoe-check-*'):
        for name in ('submission.py', '_runner.py'):
            try:
                (folder / name).write_text('raise SystemExit')
            except OSError:
                pass
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        attack()
    os._exit(0)
""" + RIGHT_02.split('EXERCISE = "dense_backward"')[1]


@pytest.mark.parametrize("mode", MODES)
def test_a_double_forked_setsid_process_cannot_outlive_the_check(tmp_path, capsys, mode):
    folder = class_folder(tmp_path, bob=RIGHT_02, carol=TEMPLATE_02)
    folder.joinpath("mallory.py").write_text(ESCAPE.format(victims=[str(folder / "bob.py"), str(folder / "carol.py")]))
    before = snapshot(folder)
    files = [folder / f"{n}.py" for n in ("mallory", "bob", "carol")]
    check.main([str(f) for f in files] + ["--sandbox", mode])
    out = lines(capsys.readouterr().out)
    assert out[0].startswith("ERROR") and "starts another program or process" in out[0], out
    assert [line.split()[0] for line in out[1:]] == ["PASS", "TODO"], out
    time.sleep(3)                                               # what an escaped process would have waited
    assert snapshot(folder) == before
    assert not [p for p in _processes() if "_runner.py" in p[1]]         # nothing of a check is still running
    check.main([str(f) for f in files[1:]] + ["--sandbox", mode])
    assert [line.split()[0] for line in lines(capsys.readouterr().out)] == ["PASS", "TODO"]


def _processes():
    """(pid, command line) of every process this user can see."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
            except OSError:
                pass
    return found


def _descendants(pid):
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def test_the_child_can_start_no_process_or_thread_whatever_the_tripwire_says(tmp_path):
    """The kernel layer under the tripwire: RLIMIT_NPROC 0 for the child's user, in each context this
    machine offers (bubblewrap; 'nobody' when the checker is root; our own user when it is not)."""
    script = tmp_path / "fork.py"
    (tmp_path / "_runner.py").write_text(Path(_check_runner.__file__).read_text())      # as in the real sandbox
    script.write_text(f"import os, sys\nsys.path.insert(0, {str(tmp_path)!r})\n"
                      "from _runner import become, no_new_processes\n"
                      "if sys.argv[1:] == ['drop']:\n    become(65534, 65534)\n"   # as the runner does for root
                      "no_new_processes()\n"
                      "try:\n    os.fork()\nexcept BlockingIOError:\n    print('refused')\n")
    os.chmod(tmp_path, 0o755)
    contexts = []
    if sandbox.bwrap_problem() is None:
        contexts.append(("bubblewrap", sandbox.bwrap_command(tmp_path, ()), {}, ["drop"] if sandbox.is_root() else []))
    if sandbox.child_user():
        contexts.append(("nobody", [], {"user": sandbox.NOBODY, "group": sandbox.NOBODY, "extra_groups": []}, []))
    if os.geteuid() != 0:
        contexts.append(("this user", [], {}, []))
    if not contexts:
        pytest.skip("root without bubblewrap and without a usable 'nobody': only the tripwire stops a fork here")
    for name, prefix, kwargs, args in contexts:
        done = subprocess.run(prefix + [sys.executable, "-I", str(script)] + args, capture_output=True, text=True,
                              timeout=120, cwd=tmp_path, **kwargs)
        assert done.stdout.strip() == "refused", (name, done.stdout, done.stderr)


# ---------------------------------------------------------------- the grader's own process
PROC_FD = """EXERCISE = 'dense_backward'
import os
parent = os.getppid()
for path in [f'/proc/{parent}/fd/1', f'/proc/{parent}/fd/2', f'/proc/self/../{parent}/fd/1']:
    try:
        with open(path, 'w') as f:
            f.write('PASS dense_backward forged.py: forged\\n')
    except OSError:
        pass
    try:
        os.truncate(path, 0)
    except OSError:
        pass
""" + RIGHT_02.split('EXERCISE = "dense_backward"')[1]


@pytest.mark.parametrize("mode", MODES)
def test_the_grader_log_cannot_be_truncated_or_forged_through_proc(tmp_path, mode):
    folder = class_folder(tmp_path, alice=RIGHT_02, mallory=PROC_FD, zoe=RIGHT_02)
    log = tmp_path / "grades.log"
    with open(log, "w") as f:
        done = subprocess.run([sys.executable, "-m", "mmoe_np.check", str(folder / "alice.py"),
                               str(folder / "mallory.py"), str(folder / "zoe.py"), "--sandbox", mode],
                              stdout=f, stderr=subprocess.PIPE, timeout=600, cwd=ROOT)
    text = log.read_bytes()
    assert b"\0" not in text and b"forged" not in text
    out = lines(text.decode())
    assert len(out) == 3 and done.returncode == 2, out
    assert out[0].startswith("PASS dense_backward") and str(folder / "alice.py") in out[0]
    assert out[1].startswith("ERROR dense_backward") and "refused" in out[1] and "mallory.py" in out[1]
    assert out[2].startswith("PASS dense_backward") and str(folder / "zoe.py") in out[2]


KILL = """EXERCISE = 'dense_backward'
import os, signal
def dense_backward(dout, cache):
    os.kill(os.getppid(), signal.{sig})
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)
"""


@pytest.mark.parametrize("mode", MODES)
def test_killing_or_stopping_the_grader_ends_nothing_but_that_file(tmp_path, mode):
    folder = class_folder(tmp_path, alice=RIGHT_02, killer=KILL.format(sig="SIGKILL"),
                          stopper=KILL.format(sig="SIGSTOP"), zoe=TEMPLATE_02)
    done = checker([folder / f"{n}.py" for n in ("alice", "killer", "stopper", "zoe")] + ["--summary", "--sandbox",
                                                                                           mode], timeout=300)
    out = lines(done.stdout)
    assert [line.split()[0] for line in out[:4]] == ["PASS", "ERROR", "ERROR", "TODO"], out
    assert "refused" in out[1] and "sends signal" in out[1] and "refused" in out[2]
    assert out[4] == "4 files: 1 PASS, 1 TODO, 0 FAIL, 2 ERROR" and done.returncode == 2


# --------------------------------------------------------------------- output and limits
FLOOD = """EXERCISE = 'dense_backward'
import sys
chunk = b'x' * 2**20
for _ in range(500):
    sys.stdout.buffer.write(chunk)
sys.stdout.flush()
""" + RIGHT_02.split('EXERCISE = "dense_backward"')[1]


@pytest.mark.parametrize("mode", MODES)
def test_500_mib_of_output_neither_fills_the_graders_memory_nor_changes_the_verdict(tmp_path, mode):
    folder = class_folder(tmp_path, flood=FLOOD)
    # VmHWM: the peak resident memory of this process image (getrusage would count the forking parent's)
    code = ("import sys; from mmoe_np import check; code = check.main(sys.argv[1:]); "
            "print('MAXRSS', [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]); "
            "sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code, str(folder / "flood.py"), "--sandbox", mode],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    out = lines(done.stdout)
    assert out[0].startswith("PASS dense_backward"), out
    max_rss_mib = int(out[1].split()[1]) / 1024
    assert max_rss_mib < 400, f"the checker held {max_rss_mib:.0f} MiB"          # 500 MiB went through it


def test_memory_cpu_and_file_size_are_limited(tmp_path, capsys):
    folder = class_folder(
        tmp_path,
        hog="EXERCISE = 'mse'\nimport numpy as np\nbig = np.ones(2**28)\n",
        spin="EXERCISE = 'mse'\nwhile True:\n    pass\n",
        writer="EXERCISE = 'mse'\nwith open('big.bin', 'wb') as f:\n    f.write(b'x' * 2**27)\n")
    assert check.main([str(folder / "hog.py"), "--memory", "1024"]) == 2
    assert "MemoryError" in capsys.readouterr().out
    assert check.main([str(folder / "writer.py")]) == 2
    assert "File too large" in capsys.readouterr().out          # Python turns SIGXFSZ into an OSError
    assert check.main([str(folder / "spin.py"), "--timeout", "2"]) == 2
    out = capsys.readouterr().out
    assert "did not finish within 2 s" in out or "CPU time" in out


# ---------------------------------------------------------------- the verdict's channel
FRAMES = """EXERCISE = 'dense_backward'
import sys
import numpy as np
def dense_backward(dout, cache):
    x, W = cache
    seen, frame = [], sys._getframe(1)
    while frame is not None:
        for scope in (frame.f_locals, frame.f_globals):
            seen += list(scope.values())
        frame = frame.f_back
    assert 'nonce' not in repr(seen)
    def pick(shape):
        for v in seen:
            if isinstance(v, np.ndarray) and v.shape == shape and v is not x and v is not W and v is not dout:
                return v
        return np.zeros(shape)
    return pick(x.shape), pick(W.shape), pick(W.shape[1:])
"""
FORGE = """EXERCISE = 'dense_backward'
import json, os
fake = json.dumps({'calls': [{'output': {'kind': 'bad', 'why': 'x'}}] * 2, 'nonce': 'x', 'status': 'PASS'}).encode()
frame = len(fake).to_bytes(8, 'big') + fake
for fd in range(3, 64):
    try:
        os.write(fd, frame + frame)
    except OSError:
        pass
os._exit(0)
"""


@pytest.mark.parametrize("mode", MODES)
def test_nothing_in_the_child_reveals_the_answers_or_forges_a_result(tmp_path, capsys, mode):
    folder = class_folder(tmp_path, peeker=FRAMES, forger=FORGE)
    assert check.main([str(folder / "peeker.py"), str(folder / "forger.py"), "--sandbox", mode]) == 2
    out = lines(capsys.readouterr().out)
    assert out[0].startswith("FAIL dense_backward"), out          # it found only its own arguments
    assert out[1].startswith("ERROR dense_backward") and "did the file write into it?" in out[1], out
    assert "nonce" not in Path(_check_runner.__file__).read_text() + Path(check.__file__).read_text()


# ------------------------------------------------------------------------------- batches
def test_every_line_of_a_batch_names_its_file_and_a_file_for_another_exercise_is_refused(tmp_path, capsys):
    folder = class_folder(tmp_path, alice=RIGHT_02, bob=solution("ex03_mse"))
    assert check.main([str(folder / "alice.py"), str(folder / "bob.py")]) == 0
    out = lines(capsys.readouterr().out)
    assert out[0].startswith(f"PASS dense_backward {folder / 'alice.py'}: ")
    assert out[1].startswith(f"PASS mse {folder / 'bob.py'}: ")
    assert check.main([str(folder / "alice.py"), str(folder / "bob.py"), "--exercise", "dense_backward"]) == 2
    out = lines(capsys.readouterr().out)
    assert out[0].startswith("PASS dense_backward")
    assert out[1].startswith("ERROR mse") and "is for exercise 'mse', not 'dense_backward'" in out[1]


def test_parallel_checking_keeps_the_order_and_the_verdicts(tmp_path, capsys):
    folder = class_folder(tmp_path, a=RIGHT_02, b=TEMPLATE_02, c=RIGHT_02.replace("x.T @ dout", "-(x.T @ dout)"),
                          d="EXERCISE = 'mse'\nimport sys\nsys.exit(0)\n")
    files = [str(folder / f"{n}.py") for n in "abcd"]
    assert check.main(files + ["--jobs", "3"]) == 2
    assert [line.split()[0] for line in lines(capsys.readouterr().out)] == ["PASS", "TODO", "FAIL", "ERROR"]


def test_sigterm_to_the_grader_ends_every_student_process(tmp_path):
    folder = class_folder(tmp_path, sleeper="EXERCISE = 'mse'\nimport time\ntime.sleep(300)\n", alice=RIGHT_02)
    proc = subprocess.Popen([sys.executable, "-m", "mmoe_np.check", str(folder / "sleeper.py"),
                             str(folder / "alice.py"), "--summary"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    deadline, started = time.time() + 120, []
    while time.time() < deadline:
        started = _descendants(proc.pid)
        if any("_runner.py" in cmd for pid, cmd in _processes() if pid in started):
            break
        time.sleep(0.2)
    else:
        pytest.fail("the student's process never started")
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "not checked: the checker was stopped (SIGTERM)" in out and str(folder / "alice.py") in out, out
    time.sleep(0.5)
    alive = [pid for pid in started if Path(f"/proc/{pid}").exists()
             and (Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z")]
    assert not alive, f"still running after SIGTERM: {alive}"


def test_a_utf8_bom_is_accepted(tmp_path, capsys):
    path = tmp_path / "notepad.py"
    path.write_bytes(b"\xef\xbb\xbf" + RIGHT_02.encode())
    assert check.main([str(path)]) == 0
    assert capsys.readouterr().out.startswith("PASS dense_backward")


# ------------------------------------------------------------ graded work and the library
def _routes():
    """Every route from an mse file to its reference answer, mmoe_np.nn.losses.mse."""
    losses = Path(mmoe_np.__file__).parent / "nn" / "losses.py"
    answer = SOLUTIONS / "ex03_mse.py"
    history = (ROOT / ".git" / "HEAD") if (ROOT / ".git").is_dir() else Path(sandbox.course_paths()[-1]) / "HEAD"
    tail = solution("ex03_mse").split('EXERCISE = "mse"')[1]
    routes = {
        "import": "import mmoe_np\n",
        "from": "from mmoe_np.nn.losses import mse as reference\n",
        "importlib": "import importlib\nreference = importlib.import_module('.nn.losses', 'mmoe' + '_np')\n",
        "__import__": "library = __import__('mmoe' + '_np')\n",
        "__import__ submodule": "losses = __import__('mmoe' + '_np' + '.nn.losses', fromlist=['x'])\n",
        "sys.modules": "import sys\nreference = sys.modules['mmoe' + '_np'].nn.losses.mse\n",
        "sys.modules after removing the guards": (
            "import sys, importlib\ndel sys.modules['mmoe' + '_np']\n"
            "sys.meta_path[:] = [f for f in sys.meta_path if 'Library' not in type(f).__name__]\n"
            "library = importlib.import_module('mmoe' + '_np')\n"),
        "the source file": f"namespace = {{}}\nexec(open({str(losses)!r}).read(), namespace)\n",
        "spec_from_file_location": (f"import importlib.util\nspec = importlib.util.spec_from_file_location('r', "
                                    f"{str(losses)!r})\nmodule = importlib.util.module_from_spec(spec)\n"
                                    "spec.loader.exec_module(module)\n"),
        "os.open": f"import os\nfd = os.open({str(losses)!r}, os.O_RDONLY)\nsource = os.read(fd, 10**6)\n",
        "pathlib": f"import pathlib\nsource = pathlib.Path({str(losses)!r}).read_text()\n",
        "the solutions": f"source = open({str(answer)!r}).read()\n",
        "the git history": f"source = open({str(history)!r}).read()\n",
        "a symbolic link": f"import os\nos.symlink({str(losses)!r}, 'mine.py')\n",
        "another python": ("import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'import mmoe_np'])\n"),
        "another python, unaudited": ("import subprocess\nsubprocess._fork_exec(*[None] * 23)\n"),
        "native fork_exec": ("import _posixsubprocess\n_posixsubprocess.fork_exec(*[None] * 23)\n"),
    }
    return {name: f"EXERCISE = 'mse'\n{code}{tail}" for name, code in routes.items()}


@pytest.fixture(scope="module", params=MODES)
def routes_checked(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("routes")
    paths = {}
    for i, (name, text) in enumerate(_routes().items()):
        paths[name] = folder / f"route{i}.py"
        paths[name].write_text(text)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        check.main([str(p) for p in paths.values()] + ["--sandbox", request.param, "--jobs", "2"])
    by_file = {line.split()[2].rstrip(":"): line for line in lines(out.getvalue())}
    return {name: by_file[str(path)] for name, path in paths.items()}


@pytest.mark.parametrize("route", list(_routes()))
def test_every_route_to_the_reference_answers_is_an_error(routes_checked, route):
    line = routes_checked[route]
    assert line.startswith("ERROR mse") and "refused: the file" in line, line
    assert any(why in line for why in ("reference answers", "a file of the course", "starts another program",
                                       "symbolic link", "reaches native code")), line


def test_the_exercises_own_imports_stay_allowed(tmp_path, capsys):
    """scipy (ex14, ex09), numba (ex08) and the student's own earlier exercises (ex04, ex07, ex10) work."""
    files = [SOLUTIONS / f"{stem}.py" for stem in ("ex14_paired_ratio", "ex07_compare", "ex04_shared_bottom_backward")]
    assert check.main([str(f) for f in files]) == 0
    assert all(line.startswith("PASS") for line in lines(capsys.readouterr().out))


# ------------------------------------------------------------------------- the sandbox modes
def test_sandbox_require_refuses_to_grade_without_bubblewrap(monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "bwrap_problem", lambda: "bubblewrap (bwrap) is not installed")
    assert check.main([str(SOLUTIONS / "ex02_dense_backward.py"), "--sandbox", "require"]) == 2
    out = capsys.readouterr()
    assert out.out.startswith("ERROR --sandbox require: bubblewrap (bwrap) is not installed; no file was checked")
    assert check.main([str(SOLUTIONS / "ex02_dense_backward.py")]) == 0          # auto: graded, and said plainly
    out = capsys.readouterr()
    assert out.out.startswith("PASS") and "sandbox: NO bubblewrap (bubblewrap (bwrap) is not installed)" in out.err


@pytest.mark.skipif(sandbox.bwrap_problem() is not None, reason=f"no bubblewrap here: {sandbox.bwrap_problem()}")
def test_bubblewrap_hides_the_library_other_processes_and_the_network(tmp_path):
    probe = tmp_path / "probe.py"
    package = Path(mmoe_np.__file__).parent
    probe.write_text(
        "import json, os, socket\n"
        f"seen = {{'library': os.path.exists({str(package)!r}), 'checkout': os.path.exists({str(ROOT / 'lessons')!r}),"
        " 'processes': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),"
        " 'tmp': os.listdir('/tmp')}\n"
        "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    seen['network'] = True\n"
        "except OSError:\n    seen['network'] = False\n"
        "print(json.dumps(seen))\n")
    os.chmod(tmp_path, 0o755)
    command = sandbox.bwrap_command(tmp_path, sandbox.course_paths()) + [sys.executable, "-I", str(probe)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    seen = json.loads(done.stdout)
    assert seen["library"] is False and seen["checkout"] is False and seen["network"] is False, seen
    assert len(seen["processes"]) <= 3, seen                     # bubblewrap's init, the probe (and its parent)
    # a private /tmp: only the check's own folder, and the folders the sandbox must show read-only (the Python
    # environment and the course, when they live under /tmp, as in a CI checkout there)
    shown = {tmp_path, Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve(), ROOT}
    allowed = {p.relative_to("/tmp").parts[0] for p in shown if p.is_relative_to("/tmp")}
    assert set(seen["tmp"]) <= allowed, seen
