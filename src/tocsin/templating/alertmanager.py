"""Alertmanager's notification template data, functions and default templates.

`build_template_data` turns a group of alerts into the dot Alertmanager
templates see (``.Receiver``, ``.Status``, ``.Alerts.Firing``,
``.GroupLabels.SortedPairs``, ...). `alertmanager_template_set` gives a
TemplateSet with Alertmanager's function set, option missingkey=zero, and
tocsin's default templates (``default.tmpl``) under the template names
Alertmanager users reference (``slack.default.title``, ``__subject``, ...);
user template files parsed afterwards override them.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import resources
from typing import Any, Protocol

from tocsin.clock import Clock, SystemClock
from tocsin.templating.execute import SafeHTML, SafeURL, State
from tocsin.templating.funcs import ANY, STRING, GoFunc, register_kind
from tocsin.templating.gotext import (
    go_json,
    go_lower,
    go_upper,
    query_unescape,
    re_match,
    re_replace_all,
    title,
    trim_space,
)
from tocsin.templating.gotime import (
    ZERO_TIME_NS,
    GoDuration,
    GoTime,
    load_location,
    parse_time,
)
from tocsin.templating.prometheus import StrMap, humanize_duration
from tocsin.templating.template import TemplateSet

DEFAULT_TEMPLATE_FILE = "default.tmpl"


# --- data model ---------------------------------------------------------------


class Pair:
    """One label or annotation: ``.Name`` and ``.Value``."""

    go_type = "template.Pair"
    go_fields = ("Name", "Value")
    __slots__ = ("Name", "Value")

    def __init__(self, name: str, value: str) -> None:
        self.Name = name
        self.Value = value

    def __repr__(self) -> str:
        return f"Pair({self.Name!r}, {self.Value!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pair) and (self.Name, self.Value) == (other.Name, other.Value)

    def __hash__(self) -> int:
        return hash((self.Name, self.Value))

    def go_json_value(self) -> dict[str, str]:
        return {"Name": self.Name, "Value": self.Value}


class Pairs(list[Pair]):
    """Sorted pairs, with alertname first."""

    go_type = "template.Pairs"
    __slots__ = ()

    def Names(self) -> list[str]:
        return [p.Name for p in self]

    def Values(self) -> list[str]:
        return [p.Value for p in self]

    def String(self) -> str:
        return ", ".join(f"{p.Name}={p.Value}" for p in self)


class KV(StrMap):
    """A label or annotation set (Go's template.KV): a map with helper methods."""

    go_type = "template.KV"
    __slots__ = ()

    def SortedPairs(self) -> Pairs:
        keys = sorted(k for k in self if k != "alertname")
        if "alertname" in self:
            keys.insert(0, "alertname")
        return Pairs(Pair(k, self[k]) for k in keys)

    def Remove(self, keys: Iterable[str]) -> KV:
        drop = set(keys)
        return KV({k: v for k, v in self.items() if k not in drop})

    def Names(self) -> list[str]:
        return self.SortedPairs().Names()

    def Values(self) -> list[str]:
        return self.SortedPairs().Values()

    def String(self) -> str:
        return self.SortedPairs().String()


class TemplateAlert:
    """One alert as templates see it (Alertmanager's template.Alert)."""

    go_type = "template.Alert"
    go_fields = (
        "Status",
        "Labels",
        "Annotations",
        "StartsAt",
        "EndsAt",
        "GeneratorURL",
        "Fingerprint",
    )
    __slots__ = (
        "Annotations",
        "EndsAt",
        "Fingerprint",
        "GeneratorURL",
        "Labels",
        "StartsAt",
        "Status",
    )

    def __init__(
        self,
        status: str,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        starts_at: GoTime,
        ends_at: GoTime,
        generator_url: str,
        fingerprint: str,
    ) -> None:
        self.Status = status
        self.Labels = KV(labels)
        self.Annotations = KV(annotations)
        self.StartsAt = starts_at
        self.EndsAt = ends_at
        self.GeneratorURL = generator_url
        self.Fingerprint = fingerprint

    def __repr__(self) -> str:
        return f"TemplateAlert({self.Status}, {dict(self.Labels)!r})"

    def go_json_value(self) -> dict[str, Any]:
        return {
            "status": self.Status,
            "labels": self.Labels,
            "annotations": self.Annotations,
            "startsAt": self.StartsAt,
            "endsAt": self.EndsAt,
            "generatorURL": self.GeneratorURL,
            "fingerprint": self.Fingerprint,
        }


class Alerts(list[TemplateAlert]):
    """The alerts of a notification, with ``.Firing`` and ``.Resolved``."""

    go_type = "template.Alerts"
    __slots__ = ()

    def Firing(self) -> list[TemplateAlert]:
        return [a for a in self if a.Status == "firing"]

    def Resolved(self) -> list[TemplateAlert]:
        return [a for a in self if a.Status == "resolved"]


class Data:
    """Dot of a notification template (Alertmanager's template.Data)."""

    go_type = "*template.Data"
    go_fields = (
        "Receiver",
        "Status",
        "Alerts",
        "GroupLabels",
        "CommonLabels",
        "CommonAnnotations",
        "RouteLabels",
        "ExternalURL",
    )
    go_pointer = True
    __slots__ = (
        "Alerts",
        "CommonAnnotations",
        "CommonLabels",
        "ExternalURL",
        "GroupLabels",
        "Receiver",
        "RouteLabels",
        "Status",
        "route_labels_rendered",
    )

    def __init__(
        self,
        receiver: str,
        status: str,
        alerts: Alerts,
        group_labels: KV,
        common_labels: KV,
        common_annotations: KV,
        external_url: str,
        route_labels: KV | None = None,
    ) -> None:
        self.Receiver = receiver
        self.Status = status
        self.Alerts = alerts
        self.GroupLabels = group_labels
        self.CommonLabels = common_labels
        self.CommonAnnotations = common_annotations
        self.ExternalURL = external_url
        # Route labels (Alertmanager's route `labels:`) may be templates; the
        # routeLabels function renders them against this data unless they are
        # marked as rendered already.
        self.RouteLabels = route_labels if route_labels is not None else KV()
        self.route_labels_rendered = False

    def mark_route_labels_rendered(self) -> None:
        """RouteLabels hold final values: routeLabels returns them verbatim."""
        self.route_labels_rendered = True

    def go_json_value(self) -> dict[str, Any]:
        """The JSON shape Alertmanager gives this data (the body of webhook payloads)."""
        return {
            "receiver": self.Receiver,
            "status": self.Status,
            "alerts": list(self.Alerts),
            "groupLabels": self.GroupLabels,
            "commonLabels": self.CommonLabels,
            "commonAnnotations": self.CommonAnnotations,
            "routeLabels": self.RouteLabels,
            "externalURL": self.ExternalURL,
        }

    def to_json(self) -> str:
        """JSON text of `go_json_value`, encoded as Go's encoding/json would."""
        return go_json(self)


register_kind("template.KV", lambda v: isinstance(v, Mapping))


# --- building data from tocsin alerts --------------------------------------------


class AlertLike(Protocol):
    """What build_template_data reads from each alert (NotifyAlert fits)."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float | None
    ends_at: float | None
    generator_url: str
    status: str
    fingerprint: str


_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK64 = (1 << 64) - 1


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's alert fingerprint: FNV-1a over sorted label pairs, 16 hex digits."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                h = ((h ^ byte) * _FNV_PRIME) & _MASK64
            h = ((h ^ 0xFF) * _FNV_PRIME) & _MASK64
    return f"{h:016x}"


_QUOTE_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


def quote_meta(text: str) -> str:
    """Go's regexp.QuoteMeta, which Alertmanager applies to the receiver name."""
    return _QUOTE_META.sub(r"\\\1", text)


def _time(seconds: float | None) -> GoTime:
    if seconds is None:
        return GoTime(ZERO_TIME_NS)
    return GoTime.from_unix(seconds)


def _template_alert(item: Any) -> TemplateAlert:
    if isinstance(item, TemplateAlert):
        return item
    if isinstance(item, tuple):
        alert, status, fp = item
    else:
        alert, status, fp = item, item.status, getattr(item, "fingerprint", "")
    if status not in ("firing", "resolved"):
        raise ValueError(f"alert status must be 'firing' or 'resolved', not {status!r}")
    labels = dict(alert.labels)
    return TemplateAlert(
        status=status,
        labels=labels,
        annotations=dict(alert.annotations),
        starts_at=_time(alert.starts_at),
        ends_at=_time(alert.ends_at),
        generator_url=alert.generator_url,
        fingerprint=fp or fingerprint(labels),
    )


def _common(maps: Sequence[Mapping[str, str]]) -> KV:
    if not maps:
        return KV()
    common = dict(maps[0])
    for m in maps[1:]:
        if not common:
            break
        common = {k: v for k, v in common.items() if m.get(k) == v}
    return KV(common)


def build_template_data(
    receiver: str,
    status: str | None,
    alerts: Sequence[Any],
    group_labels: Mapping[str, str],
    external_url: str,
    route_labels: Mapping[str, str] | None = None,
) -> Data:
    """Alertmanager's template data for one notification.

    Each alert is an object with labels, annotations, starts_at, ends_at
    (Unix seconds or None), generator_url, status ("firing"/"resolved") and
    fingerprint (e.g. tocsin.notify.types.NotifyAlert), or a tuple
    ``(tocsin.alerting.model.Alert, status, fingerprint)``. An empty
    fingerprint is computed from the labels as Alertmanager does. `status`
    None means "firing if any alert fires". As in Alertmanager, the receiver
    name is regexp-quoted and CommonLabels / CommonAnnotations are the pairs
    every alert shares. `route_labels` are the matched route's `labels:`
    (raw templates, rendered on demand by the ``routeLabels`` function).
    """
    items = Alerts(_template_alert(a) for a in alerts)
    if status is None:
        status = "firing" if any(a.Status == "firing" for a in items) else "resolved"
    return Data(
        receiver=quote_meta(receiver),
        status=status,
        alerts=items,
        group_labels=KV(group_labels),
        common_labels=_common([a.Labels for a in items]),
        common_annotations=_common([a.Annotations for a in items]),
        external_url=external_url,
        route_labels=KV(route_labels or {}),
    )


def data_from_notification(notification: Any) -> Data:
    """Template data for a tocsin.notify.types.Notification (or anything shaped like it)."""
    return build_template_data(
        notification.receiver,
        notification.status,
        notification.alerts,
        notification.group_labels,
        notification.external_url,
        getattr(notification, "route_labels", None),
    )


def notification_renderer(tset: TemplateSet, *, html: bool = False) -> Callable[[str, Any], str]:
    """A `Render` for the notify package: ``render(text, notification) -> str``.

    Template data is built once per notification and reused while the same
    notification's fields are rendered one after another.
    """
    last: list[Any] = [None, None]

    def render(text: str, notification: Any) -> str:
        if last[0] is not notification:
            last[0], last[1] = notification, data_from_notification(notification)
        return tset.execute_text(text, last[1], html=html)

    return render


# --- route labels -------------------------------------------------------------------


class RouteLabelResolver:
    """Renders route labels by name for one top-level render.

    A route label may itself be a template that calls ``routeLabels``; each
    label is rendered at most once, and a label that (indirectly) refers to
    itself is an error naming the cycle instead of endless recursion.
    """

    def __init__(self, tset: TemplateSet, data: Any, html: bool = False) -> None:
        self.tset = tset
        self.data = data
        self.html = html
        self.raw: Mapping[str, str] = getattr(data, "RouteLabels", None) or {}
        self.rendered = bool(getattr(data, "route_labels_rendered", False))
        self.memo: dict[str, str] = {}
        self.stack: list[str] = []

    def resolve(self, name: str) -> str:
        raw = self.raw.get(name)
        if raw is None:
            return ""
        if self.rendered:
            return raw
        if name in self.memo:
            return self.memo[name]
        if name in self.stack:
            cycle = " -> ".join([*self.stack, name])
            raise ValueError(f"route label cycle detected: {cycle}")
        self.stack.append(name)
        try:
            value = self.tset.execute_text(
                raw, self.data, name=f"routeLabels.{name}", html=self.html, context=self
            )
        finally:
            self.stack.pop()
        self.memo[name] = value
        return value


def _route_labels(state: State, name: str) -> str:
    resolver = state.context
    if not isinstance(resolver, RouteLabelResolver):
        resolver = RouteLabelResolver(state.owner, state.root, state.html)
        state.context = resolver
    return resolver.resolve(name)


def render_route_labels(tset: TemplateSet, data: Data) -> dict[str, str]:
    """Every route label of `data` rendered (what Alertmanager exposes per group)."""
    resolver = RouteLabelResolver(tset, data)
    return {name: resolver.resolve(name) for name in sorted(data.RouteLabels)}


# --- functions ---------------------------------------------------------------------


def _join(sep: str, items: Sequence[str]) -> str:
    return sep.join(items)


def _date(layout: str, t: GoTime) -> str:
    return t.Format(layout)


def _tz(name: str, t: GoTime) -> GoTime:
    return GoTime(t.ns, load_location(name))


def _to_date(layout: str, text: str) -> GoTime:
    try:
        return parse_time(layout, text)
    except ValueError:
        return GoTime(ZERO_TIME_NS)


def _must_to_date(layout: str, text: str) -> GoTime:
    return parse_time(layout, text)


def _to_json(value: Any) -> str:
    return go_json(value)


def _b64encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _b64decode(text: str) -> str:
    try:
        raw = base64.b64decode(text.encode(), altchars=b"-_", validate=True)
    except (ValueError, TypeError):
        raise ValueError(f"illegal base64 data in {text!r}") from None
    return raw.decode(errors="replace")


def _list(*args: Any) -> list[Any]:
    return list(args)


def _append(items: Sequence[Any], *args: Any) -> list[Any]:
    return [*items, *args]


def _dict(*values: Any) -> dict[str, Any]:
    if len(values) % 2:
        raise ValueError("dict requires an even number of arguments")
    out: dict[str, Any] = {}
    for i in range(0, len(values), 2):
        key = values[i]
        if not isinstance(key, str):
            raise ValueError("dict keys must be strings")
        out[key] = values[i + 1]
    return out


def alertmanager_funcs(clock: Clock | None = None) -> dict[str, GoFunc]:
    """Alertmanager's template functions. `clock` drives ``now`` and ``since``."""
    clk = clock or SystemClock()

    def _now() -> GoTime:
        return GoTime.from_unix(clk.now())

    def _since(t: GoTime) -> GoDuration:
        return GoDuration(GoTime.from_unix(clk.now()).ns - t.ns)

    return {
        "toUpper": GoFunc("toUpper", go_upper, (STRING,)),
        "toLower": GoFunc("toLower", go_lower, (STRING,)),
        "title": GoFunc("title", lambda s: title(s, lower_rest=True), (STRING,)),
        "trimSpace": GoFunc("trimSpace", trim_space, (STRING,)),
        "join": GoFunc("join", _join, (STRING, "[]string")),
        "match": GoFunc("match", re_match, (STRING, STRING)),
        "safeHtml": GoFunc("safeHtml", SafeHTML, (STRING,)),
        "safeUrl": GoFunc("safeUrl", SafeURL, (STRING,)),
        "urlUnescape": GoFunc("urlUnescape", query_unescape, (STRING,)),
        "reReplaceAll": GoFunc("reReplaceAll", re_replace_all, (STRING, STRING, STRING)),
        "stringSlice": GoFunc("stringSlice", lambda *s: list(s), (), STRING),
        "routeLabels": GoFunc("routeLabels", _route_labels, (STRING,), wants_state=True),
        "date": GoFunc("date", _date, (STRING, "time.Time")),
        "tz": GoFunc("tz", _tz, (STRING, "time.Time")),
        "now": GoFunc("now", _now),
        "since": GoFunc("since", _since, ("time.Time",)),
        "humanizeDuration": GoFunc("humanizeDuration", humanize_duration, (ANY,)),
        "toDate": GoFunc("toDate", _to_date, (STRING, STRING)),
        "mustToDate": GoFunc("mustToDate", _must_to_date, (STRING, STRING)),
        "toJson": GoFunc("toJson", _to_json, (ANY,)),
        "base64encode": GoFunc("base64encode", _b64encode, (STRING,)),
        "base64decode": GoFunc("base64decode", _b64decode, (STRING,)),
        "list": GoFunc("list", _list, (), ANY),
        "append": GoFunc("append", _append, ("[]interface {}",), ANY),
        "dict": GoFunc("dict", _dict, (), ANY),
    }


def default_templates_text() -> str:
    """tocsin's default notification templates (the shipped default.tmpl)."""
    return (
        resources.files("tocsin.templating")
        .joinpath(DEFAULT_TEMPLATE_FILE)
        .read_text(encoding="utf-8")
    )


@functools.lru_cache(maxsize=1)
def _parsed_defaults() -> TemplateSet:
    """The default templates, parsed once per process; sets clone it."""
    tset = TemplateSet(alertmanager_funcs(), missingkey="zero")
    tset.parse(DEFAULT_TEMPLATE_FILE, default_templates_text())
    return tset


def alertmanager_template_set(
    template_files: Iterable[str] = (),
    *,
    clock: Clock | None = None,
    include_defaults: bool = True,
) -> TemplateSet:
    """A TemplateSet as Alertmanager builds it from a config's `templates:` globs.

    The defaults come first, then every file matching each glob, so a user
    file can redefine ``slack.default.title`` and the like. A glob that
    matches nothing is not an error (Alertmanager's rule).
    """
    if include_defaults:
        tset = _parsed_defaults().clone()
        tset.add_funcs(alertmanager_funcs(clock))
    else:
        tset = TemplateSet(alertmanager_funcs(clock), missingkey="zero")
    for pattern in template_files:
        tset.add_glob(pattern)
    return tset
