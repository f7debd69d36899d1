"""The routing tree: which routes (and so receivers) an alert reaches.

Semantics are Alertmanager's: a route matches when all its matchers do; its
children are tried in order, the first matching child stops the search
unless it has `continue: true`; a matching route none of whose children
match is itself a result. Receiver, group_by and the three timers are
inherited from the parent unless set; time interval names and `continue`
are per route.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tocsin.alerting.config import AlertmanagerConfig, RouteConfig
from tocsin.alerting.matchers import format_matchers, go_quote
from tocsin.tsdb.types import LabelMatcher, MatchOp

DEFAULT_GROUP_WAIT = 30.0
DEFAULT_GROUP_INTERVAL = 300.0
DEFAULT_REPEAT_INTERVAL = 4 * 3600.0

#: Entries per route in the caches of group keys and of match results; a
#: full cache is emptied (a label of very high cardinality makes them miss).
CACHE_SIZE = 65_536


@dataclass(eq=False)
class Route:
    """One node of the routing tree with its effective (inherited) options."""

    matchers: tuple[LabelMatcher, ...]
    receiver: str
    group_by: frozenset[str]
    group_by_all: bool
    group_wait: float
    group_interval: float
    repeat_interval: float
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    continue_: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    parent: Route | None = field(default=None, repr=False)
    routes: list[Route] = field(default_factory=list, repr=False)
    idx: int = 0  # post-order position, as Alertmanager numbers routes
    _checks: list[tuple[str, int, Any]] = field(default_factory=list, init=False, repr=False)
    _key: str = field(default="", init=False, repr=False)
    _index: _ChildIndex | None = field(default=None, init=False, repr=False)
    # Group keys by the values of the group_by labels (sorted by name; None
    # for a missing label): most alerts share their group with others.
    _group_values: Callable[[Mapping[str, str]], tuple[str | None, ...]] = field(
        init=False, repr=False
    )
    _group_keys: dict[tuple[str | None, ...], str] = field(
        default_factory=dict, init=False, repr=False
    )
    # Match results by the values of every label a matcher of this subtree
    # looks at: matching depends on nothing else, so equal values match alike.
    _looked_at: Callable[[Mapping[str, str]], tuple[str | None, ...]] | None = field(
        default=None, init=False, repr=False
    )
    _matched: dict[tuple[str | None, ...], tuple[Route, ...]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        # Matching is the hot path (every alert, every route on its way):
        # precompute plain comparisons instead of going through the generic
        # matcher for `=` and `!=`.
        for m in self.matchers:
            if m.op is MatchOp.EQ:
                self._checks.append((m.name, 0, m.value))
            elif m.op is MatchOp.NE:
                self._checks.append((m.name, 1, m.value))
            else:
                self._checks.append((m.name, 2, m.matches))
        self._group_values = _values_of(tuple(sorted(self.group_by)), None)

    def matches_self(self, labels: Mapping[str, str]) -> bool:
        get = labels.get
        for name, kind, arg in self._checks:
            value = get(name, "")
            if kind == 0:
                if value != arg:
                    return False
            elif kind == 1:
                if value == arg:
                    return False
            elif not arg(value):
                return False
        return True

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes an alert with `labels` ends up in, in Alertmanager's order."""
        return list(self.matching(labels))

    def matching(self, labels: Mapping[str, str]) -> tuple[Route, ...]:
        """`match`, as a tuple shared by equal label values (the intake's path)."""
        looked_at = self._looked_at
        if looked_at is None:
            names = {m.name for r in self.walk() for m in r.matchers}
            looked_at = self._looked_at = _values_of(tuple(sorted(names)), "")
        values = looked_at(labels)
        found = self._matched.get(values)
        if found is None:
            if len(self._matched) >= CACHE_SIZE:
                self._matched.clear()
            found = self._matched[values] = tuple(self._match(labels))
        return found

    def _match(self, labels: Mapping[str, str]) -> list[Route]:
        if not self.matches_self(labels):
            return []
        found: list[Route] = []
        children = self._index.candidates(labels) if self._index else self.routes
        for child in children:
            got = child._match(labels)
            found.extend(got)
            if got and not child.continue_:
                break
        return found or [self]

    def receivers(self, labels: Mapping[str, str]) -> list[str]:
        return [r.receiver for r in self.match(labels)]

    def key(self) -> str:
        """The matcher path from the root, e.g. `{}/{service="db"}`."""
        if not self._key:
            own = format_matchers(self.matchers)
            self._key = f"{self.parent.key()}/{own}" if self.parent is not None else own
        return self._key

    def route_id(self) -> str:
        """Like key(), but unique even for siblings with equal matchers."""
        own = format_matchers(self.matchers)
        if self.parent is None:
            return own
        pos = next(i for i, r in enumerate(self.parent.routes) if r is self)
        return f"{self.parent.route_id()}/{own}/{pos}"

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The alert's labels this route groups by (all of them for `...`)."""
        if self.group_by_all:
            return dict(labels)
        return {k: v for k, v in labels.items() if k in self.group_by}

    def group_key(self, labels: Mapping[str, str]) -> str:
        """Alertmanager's aggregation group key: route key + group labels."""
        if self.group_by_all:
            return f"{self.key()}:{format_label_set(labels)}"
        values = self._group_values(labels)
        key = self._group_keys.get(values)
        if key is None:
            if len(self._group_keys) >= CACHE_SIZE:
                self._group_keys.clear()
            key = f"{self.key()}:{format_label_set(self.group_labels(labels))}"
            self._group_keys[values] = key
        return key

    def walk(self) -> list[Route]:
        """This route and all below it, depth first in config order."""
        out = [self]
        for child in self.routes:
            out.extend(child.walk())
        return out


def _values_of(
    names: tuple[str, ...], missing: str | None
) -> Callable[[Mapping[str, str]], tuple[str | None, ...]]:
    """A function giving the values of the labels `names` (`missing` for an
    absent one), the key of the caches above. Spelled out for up to two names
    (most trees and group_by lists): a comprehension costs three times as much."""
    if not names:
        return lambda labels: ()
    if len(names) == 1:
        (a,) = names
        return lambda labels: (labels.get(a, missing),)
    if len(names) == 2:
        a, b = names
        return lambda labels: (labels.get(a, missing), labels.get(b, missing))
    return lambda labels: tuple([labels.get(n, missing) for n in names])


class _ChildIndex:
    """Skip children that cannot match: many siblings pin the same label to
    different values (`venue="v1"`, `venue="v2"`, ...). Children are indexed
    by that value; the rest are always tried. Order is kept."""

    def __init__(self, routes: Sequence[Route], label: str) -> None:
        self.label = label
        self.always: list[int] = []
        self.by_value: dict[str, list[int]] = {}
        for i, r in enumerate(routes):
            pinned = [m.value for m in r.matchers if m.op is MatchOp.EQ and m.name == label]
            if pinned and len(set(pinned)) == 1:
                self.by_value.setdefault(pinned[0], []).append(i)
            elif pinned:
                continue  # contradictory `=` matchers: never matches
            else:
                self.always.append(i)
        self.routes = list(routes)

    def candidates(self, labels: Mapping[str, str]) -> list[Route]:
        hits = self.by_value.get(labels.get(self.label, ""))
        if not hits:
            return [self.routes[i] for i in self.always]
        return [self.routes[i] for i in sorted((*self.always, *hits))]

    @staticmethod
    def build(routes: Sequence[Route]) -> _ChildIndex | None:
        if len(routes) < 8:
            return None  # a plain scan is as fast
        counts: dict[str, int] = {}
        for r in routes:
            for name in {m.name for m in r.matchers if m.op is MatchOp.EQ}:
                counts[name] = counts.get(name, 0) + 1
        if not counts:
            return None
        label, used = max(counts.items(), key=lambda kv: kv[1])
        return _ChildIndex(routes, label) if used >= len(routes) // 2 else None


def format_label_set(labels: Mapping[str, str]) -> str:
    """`{a="1", b="2"}` sorted by name, as Prometheus prints a label set."""
    return "{" + ", ".join(sorted(f"{k}={go_quote(v)}" for k, v in labels.items())) + "}"


def group_id(group_key: str) -> str:
    """A stable short id for a group key (hex SHA-256, as Alertmanager's API)."""
    return hashlib.sha256(group_key.encode()).hexdigest()


def build_routes(cfg: RouteConfig) -> Route:
    """Turn the `route:` config into a tree with inherited options applied."""
    counter = [0]
    return _build(cfg, None, counter)


def build_tree(cfg: AlertmanagerConfig) -> Route:
    if cfg.route is None:
        raise ValueError("config has no route")
    return build_routes(cfg.route)


def _build(cfg: RouteConfig, parent: Route | None, counter: list[int]) -> Route:
    if parent is None:
        receiver, group_by, group_by_all = "", frozenset[str](), False
        wait, interval, repeat = DEFAULT_GROUP_WAIT, DEFAULT_GROUP_INTERVAL, DEFAULT_REPEAT_INTERVAL
        labels: dict[str, str] = {}
    else:
        receiver, group_by, group_by_all = parent.receiver, parent.group_by, parent.group_by_all
        wait, interval, repeat = parent.group_wait, parent.group_interval, parent.repeat_interval
        labels = dict(parent.labels)
    labels.update(cfg.labels)
    if cfg.group_by is not None:
        if cfg.group_by_all:
            group_by, group_by_all = frozenset(), True
        else:
            group_by, group_by_all = frozenset(cfg.group_by), False
    route = Route(
        matchers=tuple(cfg.all_matchers()),
        receiver=cfg.receiver or receiver,
        group_by=group_by,
        group_by_all=group_by_all,
        group_wait=cfg.group_wait if cfg.group_wait is not None else wait,
        group_interval=cfg.group_interval if cfg.group_interval is not None else interval,
        repeat_interval=cfg.repeat_interval if cfg.repeat_interval is not None else repeat,
        mute_time_intervals=tuple(cfg.mute_time_intervals),
        active_time_intervals=tuple(cfg.active_time_intervals),
        continue_=cfg.continue_,
        labels=labels,
        parent=parent,
    )
    route.routes = [_build(child, route, counter) for child in cfg.routes]
    route._index = _ChildIndex.build(route.routes)
    route.idx = counter[0]
    counter[0] += 1
    return route


# --- amtool-compatible text output -------------------------------------------

_SEP = "  "


def _slug(route: Route, *, show_continue: bool, show_receiver: bool) -> str:
    text = format_matchers(route.matchers) if route.matchers else "default-route"
    if route.continue_ and show_continue:
        text += f"{_SEP}continue: true"
    if show_receiver:
        text += f"{_SEP}receiver: {route.receiver}"
    return text


@dataclass
class _Node:
    text: str
    children: list[_Node] = field(default_factory=list)


def _render(root: _Node) -> str:
    """The tree drawn as amtool draws it: `.` then box-drawing branches."""
    lines = ["."]

    def walk(nodes: Sequence[_Node], prefix: str) -> None:
        for i, node in enumerate(nodes):
            last = i == len(nodes) - 1
            lines.append(prefix + ("└── " if last else "├── ") + node.text)
            # amtool's tree library pads the bar with two no-break spaces.
            walk(node.children, prefix + ("    " if last else "│\u00a0\u00a0 "))

    walk([root], "")
    return "\n".join(lines) + "\n"


def render_tree(root: Route) -> str:
    """The whole routing tree, as `amtool config routes show` prints it."""

    def conv(r: Route) -> _Node:
        return _Node(_slug(r, show_continue=True, show_receiver=True), [conv(c) for c in r.routes])

    return _render(conv(root))


def render_matching_tree(root: Route, labels: Mapping[str, str]) -> str:
    """The routes an alert walks through, as `amtool config routes test --tree`."""

    def conv(r: Route) -> _Node:
        node = _Node(_slug(r, show_continue=False, show_receiver=False))
        for child in r.routes:
            if child.matches_self(labels):
                node.children.append(conv(child))
                if not child.continue_:
                    break
        if not node.children:
            node.text = _slug(r, show_continue=False, show_receiver=True)
        return node

    return _render(conv(root))
