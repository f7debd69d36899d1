from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.alerting import routing
from tocsin.alerting.config import parse_alertmanager_config
from tocsin.alerting.matchers import matches_all
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


def _naive(route: Route, labels: dict[str, str]) -> list[Route]:
    """Alertmanager's algorithm, literally, as the reference for the indexed one."""
    if not matches_all(route.matchers, labels):
        return []
    found: list[Route] = []
    for child in route.routes:
        got = _naive(child, labels)
        found += got
        if got and not child.continue_:
            break
    return found or [route]


_CHILD = st.tuples(
    st.sampled_from(
        [
            'venue="v1"',
            'venue="v2"',
            'venue="v3"',
            'venue=""',
            'venue="v1", venue="v2"',
            'sev="crit"',
            'venue="v2", sev=~"crit|high"',
            'venue!="v1"',
            'venue=~"v[12]"',
        ]
    ),
    st.booleans(),
)


@settings(max_examples=80, deadline=None)
@given(
    children=st.lists(_CHILD, min_size=0, max_size=14),
    labels=st.fixed_dictionaries(
        {},
        optional={
            "venue": st.sampled_from(["v1", "v2", "v3", "v4", ""]),
            "sev": st.sampled_from(["crit", "high", "low"]),
        },
    ),
)
def test_indexed_matching_equals_the_plain_algorithm(
    children: list[tuple[str, bool]], labels: dict[str, str]
) -> None:
    lines = ["route:", "  receiver: root", "  routes:"]
    for i, (matchers, cont) in enumerate(children):
        lines += ["    - matchers:"]
        lines += [f"        - '{part.strip()}'" for part in matchers.split(", ")]
        lines += [f"      receiver: r{i}", f"      continue: {str(cont).lower()}"]
    if not children:
        lines.pop()
    lines += ["receivers:", "  - name: root"] + [f"  - name: r{i}" for i in range(len(children))]
    tree = build_tree(parse_alertmanager_config("\n".join(lines) + "\n"))
    assert tree.match(labels) == _naive(tree, labels)


def test_many_pinned_siblings_are_indexed_and_keep_order() -> None:
    venues = "".join(
        f"    - matchers: ['venue=\"v{i}\"']\n      receiver: r\n      continue: true\n"
        for i in range(10)
    )
    text = (
        "route:\n  receiver: root\n  routes:\n"
        "    - matchers: ['sev=\"crit\"']\n      receiver: first\n      continue: true\n"
        + venues
        + "    - matchers: ['venue=~\"v.*\"']\n      receiver: last\n"
        + "receivers: [{name: root}, {name: r}, {name: first}, {name: last}]\n"
    )
    tree = build_tree(parse_alertmanager_config(text))
    assert tree._index is not None
    assert tree.receivers({"venue": "v3", "sev": "crit"}) == ["first", "r", "last"]
    assert tree.match({"venue": "v3"})[0].key().endswith('{venue="v3"}')
    assert tree.receivers({"venue": "vx"}) == ["last"]
    assert tree.receivers({"venue": "x"}) == ["root"]
    assert tree.receivers({}) == ["root"]


_LABELS = st.dictionaries(
    st.sampled_from(["team", "severity", "env", "alertname", "zone"]),
    st.sampled_from(["", "db", "web", "ops", "critical", "warning", "prod", "Down"]),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(batch=st.lists(_LABELS, min_size=1, max_size=20))
def test_cached_matching_and_group_keys_equal_the_plain_ones(
    tree: Route, batch: list[dict[str, str]]
) -> None:
    # The fixture tree is shared, so its caches fill across examples: later
    # label sets are answered from entries that earlier ones made.
    for labels in batch * 2:
        found = tree.match(labels)
        assert found == _naive(tree, labels)
        for route in found:
            plain = f"{route.key()}:{format_label_set(route.group_labels(labels))}"
            assert route.group_key(labels) == plain
        found.clear()  # a caller changing the result does not change the cache


def test_match_cache_keys_on_the_labels_the_tree_looks_at() -> None:
    tree = build_tree(parse_alertmanager_config(CONFIG, "routes.yml"))
    a = {"team": "db", "severity": "warning", "alertname": "A", "zone": "z1"}
    assert tree.match(a) == _naive(tree, a)
    before = len(tree._matched)
    # No matcher looks at alertname or zone: these share the entry of `a`.
    for other in ({**a, "alertname": "B"}, {**a, "zone": "z2"}, {**a, "extra": "x"}):
        assert tree.match(other) == tree.match(a)
    assert len(tree._matched) == before
    assert tree.match({**a, "severity": "critical"}) != tree.match(a)
    assert len(tree._matched) == before + 1


def test_full_caches_are_emptied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routing, "CACHE_SIZE", 2)
    root = build_tree(
        parse_alertmanager_config("route: {receiver: r, group_by: [a]}\nreceivers: [{name: r}]\n")
    )
    keys = [root.group_key({"a": str(i)}) for i in range(5)]
    assert keys == [f'{{}}:{{a="{i}"}}' for i in range(5)]
    assert len(root._group_keys) <= 2
    assert root.group_key({}) == "{}:{}"  # missing differs from empty
    assert root.group_key({"a": ""}) == '{}:{a=""}'


def test_group_by_all_is_inherited_until_a_route_sets_its_own() -> None:
    root = build_tree(
        parse_alertmanager_config(
            "route:\n"
            "  receiver: a\n"
            "  group_by: ['...']\n"
            "  routes:\n"
            "    - {matchers: ['x=\"1\"'], receiver: b}\n"
            "    - {matchers: ['x=\"2\"'], receiver: c, group_by: [x]}\n"
            "receivers: [{name: a}, {name: b}, {name: c}]\n"
        )
    )
    [b] = root.match({"x": "1", "y": "y"})
    assert b.group_by_all
    assert dict(b.group_labels({"x": "1", "y": "y"})) == {"x": "1", "y": "y"}
    [c] = root.match({"x": "2", "y": "y"})
    assert not c.group_by_all
    assert dict(c.group_labels({"x": "2", "y": "y"})) == {"x": "2"}
