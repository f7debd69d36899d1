"""`tocsin routes test|show` output and exit codes (amtool's, see the conformance test)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support import conformance_dir
from tocsin.cli.main import app


@pytest.fixture
def routing() -> Path:
    return conformance_dir("alertmanager", "routing", "conf.routing.yml")


def run(*args: str) -> tuple[str, str, int]:
    result = CliRunner().invoke(app, list(args))
    return result.stdout, result.stderr, result.exit_code


@pytest.mark.parametrize(
    ("labels", "out"),
    [(["test=1"], "test1\n"), (["test=2"], "test1,test2\n"), ([], "default\n")],
)
def test_prints_receivers(routing: Path, labels: list[str], out: str) -> None:
    assert run("routes", "test", f"--config.file={routing}", *labels)[::2] == (out, 0)


@pytest.mark.parametrize(
    ("expected", "code"), [("test1,test2", 0), ("test1", 1), ("test2,test1", 1)]
)
def test_verify_receivers(routing: Path, expected: str, code: int) -> None:
    out, _, rc = run(
        "routes", "test", f"--config.file={routing}", f"--verify.receivers={expected}", "test=2"
    )
    assert rc == code
    assert out.startswith("test1,test2\n")
    assert ("WARNING: Expected receivers did not match resolved receivers." in out) is (code == 1)


def test_tree(routing: Path) -> None:
    out, _, rc = run("routes", "test", "--tree", f"--config.file={routing}", "test=2")
    assert rc == 0
    assert out.splitlines() == [
        "Matching routes:",
        ".",
        "└── default-route",
        '    ├── {test=~"^(?:^[12]$)$"}  receiver: test1',
        '    └── {test="2"}  receiver: test2',
        "",
        "",
        "test1,test2",
    ]


@pytest.mark.parametrize(("arg", "message"), [("test!=2", "key=value"), ("=x", "Failed to parse")])
def test_bad_label_arguments(routing: Path, arg: str, message: str) -> None:
    _, err, rc = run("routes", "test", f"--config.file={routing}", arg)
    assert rc == 1
    assert message in err


def test_invalid_config_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "am.yml"
    bad.write_text("route:\n  receiver: nobody\nreceivers: [{name: a}]\n")
    _, err, rc = run("routes", "test", f"--config.file={bad}", "a=b")
    assert rc == 1
    assert f"{bad}:2: route.receiver: undefined receiver 'nobody'" in err


def test_show(routing: Path) -> None:
    out, _, rc = run("routes", "show", f"--config.file={routing}")
    assert rc == 0
    assert out.splitlines()[:3] == ["Routing tree:", ".", "└── default-route  receiver: default"]
    assert '{test=~"^(?:^[12]$)$"}  continue: true  receiver: test1' in out


def test_missing_config_file(tmp_path: Path) -> None:
    _, err, rc = run("routes", "test", f"--config.file={tmp_path / 'nope.yml'}", "a=b")
    assert rc == 1
    assert "cannot read file" in err
