"""Alertmanager's own config fixtures load or fail exactly as its README says."""

from __future__ import annotations

import subprocess

import pytest
from typer.testing import CliRunner

from tests.support import conformance_dir, need_program
from tocsin.alerting.config import load_alertmanager_config
from tocsin.alerting.routing import build_tree
from tocsin.cli.main import app
from tocsin.errors import ConfigError

MUST_LOAD = [
    "conf.good.yml",
    "conf.empty-fields.yml",
    "conf.http-config.good.yml",
    "conf.group-by-all.yml",
    "conf.smtp-no-username-or-password.yml",
    "conf.smtp-password-global-and-local.yml",
    "conf.opsgenie-default-apikey.yml",
    "conf.opsgenie-default-apikey-file.yml",
    "conf.slack-default-app-token.yml",
    "conf.slack-default-api-url-file.yml",
]

# fixture -> (field the error must name, words its message must contain)
MUST_FAIL = {
    "conf.nil-match_re-route.yml": ("route.routes[0].match_re.invalid_label", "regexp"),
    "conf.nil-source_match_re-inhibition.yml": (
        "inhibit_rules[0].source_match_re.invalid_source_label",
        "regexp",
    ),
    "conf.nil-target_match_re-inhibition.yml": (
        "inhibit_rules[0].target_match_re.invalid_target_label",
        "regexp",
    ),
    "conf.smtp-both-password-and-file.yml": (
        "global.smtp_auth_password_file",
        "at most one of smtp_auth_password & smtp_auth_password_file",
    ),
    "conf.opsgenie-both-file-and-apikey.yml": (
        "global.opsgenie_api_key_file",
        "at most one of opsgenie_api_key & opsgenie_api_key_file",
    ),
    "conf.opsgenie-no-apikey.yml": (
        "receivers[0].opsgenie_configs[0]",
        "no global OpsGenie API Key",
    ),
    "conf.opsgenie-default-apikey-old-team.yml": (
        "receivers[0].opsgenie_configs[0].teams",
        "unknown field",
    ),
    "conf.slack-both-file-and-url.yml": (
        "global.slack_api_url_file",
        "at most one of slack_api_url & slack_api_url_file",
    ),
    "conf.slack-both-file-and-token.yml": (
        "global.slack_app_token_file",
        "at most one of slack_app_token & slack_app_token_file",
    ),
    "conf.slack-both-url-and-token.yml": (
        "global.slack_api_url",
        "at most one of slack_app_token/slack_app_token_file & slack_api_url",
    ),
    "conf.slack-no-api-url-or-token.yml": (
        "receivers[0].slack_configs[0]",
        "no Slack API URL nor App token",
    ),
    "conf.slack-update-message-and-webhook.yml": (
        "receivers[0].slack_configs[0]",
        "update_message can only be used with bot tokens",
    ),
}

ROUTING_CASES = [
    ("conf.routing.yml", {"test": "1"}, ["test1"]),
    ("conf.routing.yml", {"test": "2"}, ["test1", "test2"]),
    ("conf.routing-reverted.yml", {"test": "2"}, ["test2", "test1"]),
    ("conf.routing.yml", {"test": "volovina"}, ["default"]),
]


def test_every_config_fixture_is_classified() -> None:
    present = {p.name for p in conformance_dir("alertmanager", "config").glob("*.yml")}
    assert present == set(MUST_LOAD) | set(MUST_FAIL)


@pytest.mark.parametrize("name", MUST_LOAD)
def test_fixture_loads(name: str) -> None:
    cfg = load_alertmanager_config(conformance_dir("alertmanager", "config", name))
    assert cfg.route is not None
    assert cfg.route.receiver in {r.name for r in cfg.receivers}


@pytest.mark.parametrize(("name", "expected"), sorted(MUST_FAIL.items()))
def test_fixture_is_rejected_naming_the_problem(name: str, expected: tuple[str, str]) -> None:
    path = conformance_dir("alertmanager", "config", name)
    field, words = expected
    with pytest.raises(ConfigError) as info:
        load_alertmanager_config(path)
    problems = info.value.problems
    assert any(p.field == field and words in p.message for p in problems), problems
    for p in problems:
        assert p.file == str(path)
        assert p.line is not None
        assert p.line >= 1
    assert field.rsplit(".", 1)[-1].split("[")[0] in str(info.value)


@pytest.mark.parametrize(("name", "labels", "receivers"), ROUTING_CASES)
def test_routing_case(name: str, labels: dict[str, str], receivers: list[str]) -> None:
    tree = build_tree(load_alertmanager_config(conformance_dir("alertmanager", "routing", name)))
    assert tree.receivers(labels) == receivers


def test_simple_example_loads_and_routes() -> None:
    cfg = load_alertmanager_config(conformance_dir("alertmanager", "routing", "simple.yml"))
    tree = build_tree(cfg)
    assert tree.receivers({"service": "database", "owner": "team-X"}) == ["team-X-pager"]
    assert tree.receivers({"service": "foo1", "severity": "critical"}) == ["team-X-pager"]
    assert tree.receivers({"service": "foo1", "severity": "warning"}) == ["team-X-mails"]
    assert tree.receivers({"service": "other"}) == ["team-X-mails"]
    db = tree.match({"service": "database"})[0]
    assert db.group_by == {"alertname", "cluster", "database"}
    assert db.repeat_interval == 3 * 3600
    assert cfg.inhibit_rules[0].equal == ["alertname", "cluster", "service"]


def test_route_labels_example_loads_with_inherited_labels() -> None:
    cfg = load_alertmanager_config(conformance_dir("alertmanager", "routing", "route_labels.yml"))
    tree = build_tree(cfg)
    [dba] = tree.match({"service": "database", "alertname": "DiskFull"})
    assert dba.receiver == "dba"
    assert dba.labels["reason"] == "database {{ .GroupLabels.database }}"
    assert dba.labels["description"] == tree.labels["description"]
    [net] = tree.match({"link_a_device": "sw-a", "link_z_device": "sw-b"})
    assert net.receiver == "network"
    assert tree.receivers({"link_a_device": "sw-a"}) == ["default"]


AMTOOL_CASES = [
    *[(f"routing/{name}", labels) for name, labels, _ in ROUTING_CASES],
    ("config/conf.good.yml", {"service": "database", "owner2": "team-X", "owner": "team-Y"}),
    ("config/conf.good.yml", {"service": "files", "severity": "critical"}),
    ("config/conf.good.yml", {"service": "foo2"}),
    ("config/conf.good.yml", {"alertname": "x"}),
]


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)


def _tocsin(args: list[str]) -> tuple[str, int]:
    result = CliRunner().invoke(app, args)
    return result.stdout, result.exit_code


@pytest.mark.parametrize(("rel", "labels"), AMTOOL_CASES)
@pytest.mark.parametrize("extra", [[], ["--tree"], ["--verify.receivers=test1"]])
def test_output_matches_amtool(rel: str, labels: dict[str, str], extra: list[str]) -> None:
    amtool = need_program("amtool")
    config = conformance_dir("alertmanager", *rel.split("/"))
    args = [*extra, f"--config.file={config}", *(f"{k}={v}" for k, v in labels.items())]
    theirs = _run([amtool, "config", "routes", "test", *args])
    assert _tocsin(["routes", "test", *args]) == (theirs.stdout, theirs.returncode)


def test_tree_matches_amtool() -> None:
    amtool = need_program("amtool")
    config = conformance_dir("alertmanager", "config", "conf.good.yml")
    theirs = _run([amtool, "config", "routes", "show", f"--config.file={config}"])
    assert theirs.returncode == 0
    assert _tocsin(["routes", "show", f"--config.file={config}"]) == (theirs.stdout, 0)
