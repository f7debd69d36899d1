from __future__ import annotations

import pytest

from tocsin.alerting.config import parse_alertmanager_config
from tocsin.alerting.routing import Route, build_tree, format_label_set, group_id

CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  routes:
    - matchers: ['team="db"']
      receiver: db
      group_interval: 1m
      routes:
        - matchers: ['severity="critical"']
          receiver: db-pager
          continue: true
          mute_time_intervals: [nights]
        - matchers: ['severity=~"critical|warning"']
          receiver: db-mail
          group_by: ['...']
    - match: {team: web}
      match_re: {env: 'prod|staging'}
      receiver: web
      repeat_interval: 1h
      group_by: []
      active_time_intervals: [office]
    - matchers: ['team=~".+"']
      receiver: catch-all-teams
      continue: true
    - matchers: ['team="ops"']
      receiver: ops
receivers:
  - name: default
  - name: db
  - name: db-pager
  - name: db-mail
  - name: web
  - name: catch-all-teams
  - name: ops
time_intervals:
  - name: nights
    time_intervals: [{times: [{start_time: "00:00", end_time: "06:00"}]}]
  - name: office
    time_intervals: [{weekdays: ["monday:friday"]}]
"""


@pytest.fixture(scope="module")
def tree() -> Route:
    return build_tree(parse_alertmanager_config(CONFIG, "routes.yml"))


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"team": "db", "severity": "critical"}, ["db-pager", "db-mail"]),
        ({"team": "db", "severity": "warning"}, ["db-mail"]),
        ({"team": "db", "severity": "info"}, ["db"]),
        ({"team": "web", "env": "prod"}, ["web"]),
        ({"team": "web", "env": "production"}, ["catch-all-teams"]),  # anchored regex
        ({"team": "ops"}, ["catch-all-teams", "ops"]),
        ({"team": ""}, ["default"]),
        ({}, ["default"]),
    ],
)
def test_receivers_in_order(tree: Route, labels: dict[str, str], receivers: list[str]) -> None:
    assert tree.receivers(labels) == receivers


def test_options_are_inherited_unless_set(tree: Route) -> None:
    pager, mail = tree.match({"team": "db", "severity": "critical"})
    assert (pager.group_wait, pager.group_interval, pager.repeat_interval) == (10, 60, 4 * 3600)
    assert pager.group_by == {"alertname"}
    assert not pager.group_by_all
    assert pager.mute_time_intervals == ("nights",)
    assert mail.group_by_all
    assert mail.mute_time_intervals == ()  # time intervals are not inherited
    [web] = tree.match({"team": "web", "env": "prod"})
    assert web.group_by == frozenset()
    assert (web.group_wait, web.group_interval, web.repeat_interval) == (10, 300, 3600)
    assert web.active_time_intervals == ("office",)


def test_alertmanager_defaults() -> None:
    root = build_tree(parse_alertmanager_config("route: {receiver: a}\nreceivers: [{name: a}]"))
    assert (root.group_wait, root.group_interval, root.repeat_interval) == (30, 300, 14400)
    assert root.group_by == frozenset()


def test_group_key_is_route_path_plus_group_labels(tree: Route) -> None:
    labels = {"team": "db", "severity": "critical", "alertname": "Down", "zone": "z1"}
    pager, mail = tree.match(labels)
    assert pager.key() == '{}/{team="db"}/{severity="critical"}'
    assert pager.group_key(labels) == '{}/{team="db"}/{severity="critical"}:{alertname="Down"}'
    assert mail.group_labels(labels) == labels  # group_by: ['...']
    assert mail.group_key(labels).endswith(
        ':{alertname="Down", severity="critical", team="db", zone="z1"}'
    )
    assert group_id(pager.group_key(labels)) != group_id(mail.group_key(labels))
    assert len(group_id("x")) == 64


def test_legacy_match_re_is_stored_anchored(tree: Route) -> None:
    web = tree.routes[1]
    assert web.key() == '{}/{env=~"^(?:prod|staging)$",team="web"}'


def test_route_ids_are_unique_and_idx_is_post_order(tree: Route) -> None:
    routes = tree.walk()
    assert len({r.route_id() for r in routes}) == len(routes)
    assert tree.idx == len(routes) - 1
    assert routes[1].routes[0].idx == 0


def test_format_label_set_quotes_like_go() -> None:
    assert format_label_set({"b": 'x"y', "a": "1"}) == '{a="1", b="x\\"y"}'
