"""Layer 3: checks across the file (root route rules, names and references)."""

from __future__ import annotations

from collections.abc import Iterator

from tocsin.alerting.config.models import AlertmanagerConfig, RouteConfig

Path = tuple[str | int, ...]
Problem = tuple[Path, str]


def walk_routes(route: RouteConfig, path: Path = ("route",)) -> Iterator[tuple[Path, RouteConfig]]:
    """Every route of the tree with its path in the file, depth first."""
    yield path, route
    for i, child in enumerate(route.routes):
        yield from walk_routes(child, (*path, "routes", i))


def check_references(cfg: AlertmanagerConfig) -> list[Problem]:
    problems: list[Problem] = []

    receivers: set[str] = set()
    for i, rcv in enumerate(cfg.receivers):
        if rcv.name in receivers:
            problems.append(
                (("receivers", i, "name"), f"notification config name {rcv.name!r} is not unique")
            )
        receivers.add(rcv.name)

    intervals: set[str] = set()
    for key in ("mute_time_intervals", "time_intervals"):
        for i, ti in enumerate(getattr(cfg, key)):
            if ti.name in intervals:
                kind = "mute time interval" if key == "mute_time_intervals" else "time interval"
                problems.append(((key, i, "name"), f"{kind} {ti.name!r} is not unique"))
            intervals.add(ti.name)

    root = cfg.route
    if root is None:
        problems.append(((), "no route provided in config"))
        return problems
    if root.continue_:
        problems.append((("route", "continue"), "cannot have continue in root route"))
    if not root.receiver:
        problems.append((("route",), "root route must specify a default receiver"))
    for key in ("match", "match_re", "matchers"):
        if getattr(root, key):
            problems.append((("route", key), "root route must not have any matchers"))
    if root.mute_time_intervals:
        problems.append(
            (("route", "mute_time_intervals"), "root route must not have any mute time intervals")
        )
    if root.active_time_intervals:
        problems.append(
            (
                ("route", "active_time_intervals"),
                "root route must not have any active time intervals",
            )
        )

    for path, route in walk_routes(root):
        if route.receiver and route.receiver not in receivers:
            problems.append(
                ((*path, "receiver"), f"undefined receiver {route.receiver!r} used in route")
            )
        for key in ("active_time_intervals", "mute_time_intervals"):
            for i, name in enumerate(getattr(route, key)):
                if name not in intervals:
                    problems.append(
                        ((*path, key, i), f"undefined time interval {name!r} used in route")
                    )
    return problems
