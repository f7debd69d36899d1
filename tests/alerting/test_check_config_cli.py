"""`tocsin check-config` on Alertmanager files and on tocsin's `alerting:` section."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.support import REPO, conformance_dir
from tocsin.cli.main import app


def run(*args: str) -> tuple[str, str, int]:
    result = CliRunner().invoke(app, ["check-config", *args])
    return result.stdout, result.stderr, result.exit_code


def test_alertmanager_file_is_accepted_as_it_is() -> None:
    path = REPO / "examples" / "music-fleet" / "alertmanager.yml"
    out, err, code = run(str(path))
    assert (code, err) == (0, "")
    assert out == (
        f"SUCCESS: {path} is a valid Alertmanager config\n  5 receivers, 1 inhibit rules\n"
    )


def test_alertmanager_file_with_an_error_names_file_line_and_field() -> None:
    path = conformance_dir("alertmanager", "config", "conf.nil-match_re-route.yml")
    _, err, code = run(str(path))
    assert code == 1
    assert err.startswith(f"FAILED: {path}\n")
    assert "route.routes[0].match_re.invalid_label" in err


def test_receiver_kinds_tocsin_cannot_deliver_fail_naming_the_receiver() -> None:
    # Valid for Alertmanager, but `tocsin run` would refuse its VictorOps and
    # Pushover receivers: check-config says so instead of SUCCESS.
    path = conformance_dir("alertmanager", "config", "conf.good.yml")
    out, err, code = run(str(path))
    assert (out, code) == ("", 1)
    assert "receiver 'victorOps-receiver': victorops_configs is not supported by tocsin" in err
    assert "receiver 'pushover-receiver': pushover_configs is not supported by tocsin" in err


def test_unsupported_kind_in_the_alerting_section_of_tocsin_config(tmp_path: Path) -> None:
    path = tmp_path / "tocsin.yml"
    path.write_text(
        f"database: sqlite:///{tmp_path / 's.db'}\n"
        "alerting:\n"
        "  route: {receiver: venue-it}\n"
        "  receivers:\n"
        "    - name: venue-it\n"
        "      telegram_configs: [{bot_token: t, chat_id: 1}]\n"
    )
    out, err, code = run(str(path))
    assert (out, code) == ("", 1)
    assert "receiver 'venue-it': telegram_configs is not supported by tocsin" in err
    assert "apprise_configs" in err  # the way out


def test_template_file_that_does_not_parse_fails_the_check(tmp_path: Path) -> None:
    (tmp_path / "bad.tmpl").write_text('{{ define "x" }}{{ .Foo\n')
    path = tmp_path / "am.yml"
    path.write_text("route: {receiver: a}\nreceivers: [{name: a}]\ntemplates: ['*.tmpl']\n")
    out, err, code = run(str(path))
    assert (out, code) == ("", 1)
    assert f"{path}: templates: template: " in err
    assert "bad.tmpl:2" in err
