"""The hostile-input catalogue (tests/data/bad/CATALOGUE.tsv) run through the CLI: every case fails
with its one expected line, prints nothing on stdout, and leaves its output target alone."""
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
CATALOGUE = BAD / "CATALOGUE.tsv"
# Files of the directory that are not inputs of a case.
NOT_INPUTS = {"CATALOGUE.tsv"}
# The output option each command writes, and the name the test gives it.
TARGETS = {"train": ("--model", "out.srm"), "predict": ("--output", "out.csv")}
KNOWN_CONTENT = b"known content that a failing command must leave alone\n"


@dataclass
class Case:
    name: str
    file: str  # a file of BAD, or dir:NAME, or missing:NAME
    command: list
    message: str

    @property
    def path(self):
        return self.file.split(":", 1)[1] if self.file.startswith(("dir:", "missing:")) else self.file

    def matches(self, text):
        if self.message.startswith("re:"):
            return re.fullmatch(self.message[3:], text) is not None
        return text == self.message


def load_catalogue():
    cases = []
    for number, line in enumerate(CATALOGUE.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        assert len(fields) == 4, f"CATALOGUE.tsv:{number}: expected 4 tab-separated fields, found {len(fields)}"
        if fields == ["case", "file", "command", "message"]:
            continue
        name, file, command, message = fields
        cases.append(Case(name, file, shlex.split(command), message))
    return cases


CASES = load_catalogue()


def run(softreg_bin, cwd, args):
    return subprocess.run([softreg_bin, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60)


@pytest.fixture(scope="module")
def good_model(softreg_bin, tmp_path_factory):
    """good.srm, trained from the catalogue's good.csv (three classes, features a and b)."""
    where = tmp_path_factory.mktemp("good_model")
    shutil.copy(BAD / "good.csv", where / "good.csv")
    proc = run(softreg_bin, where, ["train", "--data", "good.csv", "--model", "good.srm", "--quiet"])
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return (where / "good.srm").read_bytes()


def test_the_catalogue_is_large_unique_and_uses_every_file():
    assert len(CASES) >= 60
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names), "case names repeat"
    used = set()
    for case in CASES:
        used.add(case.path)
        used.update(arg for arg in case.command if (BAD / arg).is_file())
        if not case.file.startswith(("dir:", "missing:")):
            assert (BAD / case.file).is_file(), f"{case.name}: {case.file} is not in tests/data/bad"
            # IDX labels are found as the images' sibling, unnamed on the command line.
            sibling = "-labels-idx1-ubyte" in case.file
            assert sibling or case.file in case.command, f"{case.name}: the command does not use {case.file}"
        assert case.command[0] in ("train", "predict", "eval"), case.name
    present = {p.name for p in BAD.iterdir()} - NOT_INPUTS
    assert present - used == set(), "files no case uses"
    assert all((BAD / name).stat().st_size < 4096 for name in present), "a file of 4 KiB or more"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_file_fails_with_its_message_and_writes_nothing(softreg_bin, tmp_path, good_model, case):
    scratch = tmp_path / "bad"
    shutil.copytree(BAD, scratch)
    (scratch / "good.srm").write_bytes(good_model)
    if case.file.startswith("dir:"):
        (scratch / case.path).mkdir()
    if case.file.startswith("missing:"):
        assert not (scratch / case.path).exists()
    args = [arg.replace("{model}", "good.srm") for arg in case.command]
    option, target = TARGETS.get(args[0], (None, None))
    if option is not None:
        args += [option, target]
    before = sorted(p.name for p in scratch.iterdir())

    for existing in (False, True):
        if existing and target is not None:
            (scratch / target).write_bytes(KNOWN_CONTENT)
        proc = run(softreg_bin, scratch, args)
        stderr = proc.stderr.decode("utf-8", errors="backslashreplace")
        assert proc.returncode != 0, f"exit code 0; stderr: {stderr!r}"
        lines = stderr.splitlines()
        assert len(lines) == 1 and stderr.endswith("\n"), f"expected one line on stderr: {stderr!r}"
        prefix = "softreg: error: "
        assert lines[0].startswith(prefix), lines[0]
        assert case.matches(lines[0][len(prefix):]), (
            f"\n  expected: {case.message}\n  found:    {lines[0][len(prefix):]}")
        assert proc.stdout == b"", f"stdout is not empty: {proc.stdout[:200]!r}"
        if target is None:
            assert sorted(p.name for p in scratch.iterdir()) == before, "a failing command left files behind"
        elif existing:
            assert (scratch / target).read_bytes() == KNOWN_CONTENT, f"{target} was changed"
            assert sorted(p.name for p in scratch.iterdir()) == sorted(before + [target]), "files left behind"
        else:
            assert not (scratch / target).exists(), f"{target} was created"
            assert sorted(p.name for p in scratch.iterdir()) == before, "a failing command left files behind"
