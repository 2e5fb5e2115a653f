"""Repository rules that a fresh clone must keep: module layering, README set-up
commands, and a CI script that runs nothing the README does not say."""
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_layering():
    r = subprocess.run(["sh", os.path.join(ROOT, "tests", "layering.sh")], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    assert r.returncode == 0, r.stdout.decode()


def test_readme_has_exactly_the_two_setup_commands():
    text = open(os.path.join(ROOT, "README.md")).read()
    setup = text.split("## Set up", 1)[1].split("##", 1)[0]
    block = re.search(r"```sh\n(.*?)```", setup, re.S).group(1)
    cmds = [l.split("#", 1)[0].strip() for l in block.splitlines() if l.strip()]
    assert cmds == ["make run", "make test"]


def test_ci_runs_make_test_only():
    script = open(os.path.join(ROOT, ".ci", "run")).read()
    cmds = [l.strip() for l in script.splitlines() if l.strip() and not l.strip().startswith("#")]
    assert cmds[-1] == "exec make test"
    assert all(c in ("set -e", 'cd "$(dirname "$0")/.."', "exec make test") for c in cmds), cmds


def test_generated_code_not_committed():
    r = subprocess.run(["git", "ls-files"], cwd=ROOT, stdout=subprocess.PIPE)
    if r.returncode != 0:
        return  # not a git checkout (e.g. an exported tarball)
    files = r.stdout.decode().split()
    assert not [f for f in files if f.endswith(".pb-c.c") or f.endswith(".pb-c.h") or f.startswith("build/")]
