"""Prometheus's template functions and alert-template expansion.

`expand_alert_template` does for a rule's labels and annotations what
Prometheus does: ``$labels``, ``$externalLabels``, ``$externalURL`` and
``$value`` are predeclared, missing map keys read as "", and the function
set is Prometheus's (humanize*, query, first, label, value, ...), with
Prometheus's exact output formats.
"""

from __future__ import annotations

import ipaddress
import math
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from tocsin.templating.errors import TemplateError
from tocsin.templating.execute import SafeHTML, State
from tocsin.templating.funcs import ANY, STRING, GoFunc, register_kind
from tocsin.templating.gofmt import format_float, format_float_shortest
from tocsin.templating.gotext import (
    convert_to_float,
    go_lower,
    go_upper,
    join_host_port,
    query_escape,
    re_match,
    re_replace_all,
    split_host_port,
    title,
)
from tocsin.templating.gotime import GoDuration, GoTime, parse_go_duration
from tocsin.templating.nodes import (
    ActionNode,
    BranchNode,
    ChainNode,
    CommandNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    ListNode,
    Node,
    PipeNode,
    TemplateNode,
    VariableNode,
)
from tocsin.templating.template import TemplateSet


class StrMap(dict[str, str]):
    """A Go map[string]string: a missing key reads as "" under missingkey=zero."""

    go_type = "map[string]string"
    go_zero = ""
    __slots__ = ()


class Sample:
    """One element of a query result: ``.Labels`` (with __name__) and ``.Value``."""

    go_type = "*template.sample"
    go_fields = ("Labels", "Value")
    go_pointer = True
    __slots__ = ("Labels", "Value")

    def __init__(self, labels: Mapping[str, str], value: Any) -> None:
        self.Labels = labels if isinstance(labels, StrMap) else StrMap(labels)
        self.Value = value

    def __repr__(self) -> str:
        return f"Sample({dict(self.Labels)!r}, {self.Value!r})"


class QueryResult(list[Sample]):
    go_type = "template.queryResult"
    __slots__ = ()


register_kind("template.queryResult", lambda v: isinstance(v, QueryResult))
register_kind("*template.sample", lambda v: isinstance(v, Sample))

# What the injected query callable may return per element: a Sample, a
# (labels, value) pair, or an object with `labels` / `metric` and `value`.
QueryFunc = Callable[[str], Iterable[Any]]


def _to_sample(item: Any) -> Sample:
    if isinstance(item, Sample):
        return item
    if isinstance(item, tuple) and len(item) == 2:
        return Sample(item[0], item[1])
    labels = getattr(item, "labels", None)
    if labels is None:
        labels = getattr(item, "metric", None)
    if labels is None or not hasattr(item, "value"):
        raise ValueError(f"query returned an element that is not a sample: {item!r}")
    return Sample(labels, item.value)


# --- number formatting -------------------------------------------------------


def _g4(v: float) -> str:
    return format_float(v, "g", 4)


def humanize(value: Any) -> str:
    """Metric prefixes: 1234567 -> 1.235M, 0.12 -> 120m."""
    v = convert_to_float(value)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    if abs(v) >= 1:
        prefix = ""
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix = p
            v /= 1000
        return _g4(v) + prefix
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return _g4(v) + prefix


def humanize1024(value: Any) -> str:
    """Binary prefixes: 1048576 -> 1Mi."""
    v = convert_to_float(value)
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix = p
        v /= 1024
    return _g4(v) + prefix


def _go_trunc(v: float) -> int:
    return int(v)  # Go's int64(float) truncates toward zero, as int() does


def humanize_duration(value: Any) -> str:
    """Seconds as 1d 2h 3m 4s, or 1.5s / 250ms / 100us below a second."""
    v = convert_to_float(value)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    if v == 0:
        return _g4(v) + "s"
    if abs(v) >= 1:
        sign = ""
        if v < 0:
            sign = "-"
            v = -v
        duration = _go_trunc(v)
        seconds = duration % 60
        minutes = (duration // 60) % 60
        hours = (duration // 3600) % 24
        days = duration // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return f"{_g4(v)}{prefix}s"


def humanize_percentage(value: Any) -> str:
    """A ratio as a percentage: 0.1234567 -> 12.35%."""
    return _g4(convert_to_float(value) * 100) + "%"


_MAX_INT64 = float(2**63 - 1)
_MIN_INT64 = float(-(2**63))


def float_to_time(v: float) -> GoTime:
    """Unix seconds to a UTC time at millisecond precision, as Prometheus converts."""
    if math.isnan(v) or math.isinf(v):
        raise ValueError("value is NaN or Inf")
    ns = v * 1e9
    if ns > _MAX_INT64 or ns < _MIN_INT64:
        raise ValueError(
            f"{format_float_shortest(v)} cannot be represented as a nanoseconds timestamp "
            "since it overflows int64"
        )
    ms = int(int(ns) / 1_000_000) if ns < 0 else int(ns) // 1_000_000
    return GoTime(ms * 1_000_000)


def humanize_timestamp(value: Any) -> str:
    """Unix seconds as Go prints a UTC time: 2015-06-23 13:19:44.128 +0000 UTC."""
    v = convert_to_float(value)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    return float_to_time(v).String()


def to_time(value: Any) -> GoTime:
    return float_to_time(convert_to_float(value))


def to_duration(value: Any) -> GoDuration:
    return GoDuration(_go_trunc(convert_to_float(value) * 1e9))


def parse_duration(text: str) -> float:
    return parse_go_duration(text, allow_negative=True)


# --- strings and links -------------------------------------------------------------


def strip_port(hostport: str) -> str:
    try:
        return split_host_port(hostport)[0]
    except ValueError:
        return hostport


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return "%" not in host


def strip_domain(hostport: str) -> str:
    try:
        host, port = split_host_port(hostport)
    except ValueError:
        host, port = hostport, ""
    if _is_ip(host):
        return hostport
    host = host.split(".")[0]
    return join_host_port(host, port) if port else host


def graph_link(expr: str) -> str:
    return f"/graph?g0.expr={query_escape(expr)}&g0.tab=0"


def table_link(expr: str) -> str:
    return f"/graph?g0.expr={query_escape(expr)}&g0.tab=1"


def _first(result: QueryResult) -> Sample:
    if not result:
        raise ValueError("first() called on vector with no elements")
    return result[0]


def _label(name: str, sample: Sample) -> str:
    return sample.Labels.get(name, "")


def _value(sample: Sample) -> Any:
    return sample.Value


def _strvalue(sample: Sample) -> str:
    return sample.Labels.get("__value__", "")


def _sort_by_label(name: str, result: QueryResult) -> QueryResult:
    result.sort(key=lambda s: s.Labels.get(name, ""))
    return result


def _args(*args: Any) -> dict[str, Any]:
    return {f"arg{i}": a for i, a in enumerate(args)}


def _tmpl(state: State, name: str, data: Any) -> SafeHTML:
    return SafeHTML(state.execute_named(name, data))


def _no_query(expr: str) -> Iterable[Any]:
    raise ValueError("no query engine is available to templates here")


def _bound_funcs(
    query_fn: QueryFunc | None, timestamp: float, external_url: str
) -> dict[str, GoFunc]:
    """The functions that depend on the evaluation: query engine, instant, URL."""
    query = query_fn or _no_query
    now_ms = math.floor(timestamp * 1000)

    def _query(expr: str) -> QueryResult:
        return QueryResult(_to_sample(item) for item in query(expr))

    return {
        "query": GoFunc("query", _query, (STRING,)),
        "now": GoFunc("now", lambda: now_ms / 1000.0),
        "pathPrefix": GoFunc("pathPrefix", lambda: urllib.parse.urlsplit(external_url).path),
        "externalURL": GoFunc("externalURL", lambda: external_url),
    }


class _Evaluation:
    """What the evaluation-bound functions read during one alert expansion."""

    __slots__ = ("external_url", "now_ms", "query_fn")

    def __init__(self, query_fn: QueryFunc | None, timestamp: float, external_url: str) -> None:
        self.query_fn = query_fn or _no_query
        self.now_ms = math.floor(timestamp * 1000)
        self.external_url = external_url


def _ctx_query(state: State, expr: str) -> QueryResult:
    return QueryResult(_to_sample(item) for item in state.context.query_fn(expr))


# The same functions as _bound_funcs, reading the evaluation from the state,
# so expanding an alert template builds no functions per call.
_CONTEXT_FUNCS: dict[str, GoFunc] = {
    "query": GoFunc("query", _ctx_query, (STRING,), wants_state=True),
    "now": GoFunc("now", lambda st: st.context.now_ms / 1000.0, wants_state=True),
    "pathPrefix": GoFunc(
        "pathPrefix",
        lambda st: urllib.parse.urlsplit(st.context.external_url).path,
        wants_state=True,
    ),
    "externalURL": GoFunc("externalURL", lambda st: st.context.external_url, wants_state=True),
}


_STATIC_FUNCS: dict[str, GoFunc] = {
    "first": GoFunc("first", _first, ("template.queryResult",)),
    "label": GoFunc("label", _label, (STRING, "*template.sample")),
    "value": GoFunc("value", _value, ("*template.sample",)),
    "strvalue": GoFunc("strvalue", _strvalue, ("*template.sample",)),
    "sortByLabel": GoFunc("sortByLabel", _sort_by_label, (STRING, "template.queryResult")),
    "args": GoFunc("args", _args, (), ANY),
    "tmpl": GoFunc("tmpl", _tmpl, (STRING, ANY), wants_state=True),
    "reReplaceAll": GoFunc("reReplaceAll", re_replace_all, (STRING, STRING, STRING)),
    "safeHtml": GoFunc("safeHtml", SafeHTML, (STRING,)),
    "match": GoFunc("match", re_match, (STRING, STRING)),
    "title": GoFunc("title", lambda s: title(s, lower_rest=False), (STRING,)),
    "toUpper": GoFunc("toUpper", go_upper, (STRING,)),
    "toLower": GoFunc("toLower", go_lower, (STRING,)),
    "graphLink": GoFunc("graphLink", graph_link, (STRING,)),
    "tableLink": GoFunc("tableLink", table_link, (STRING,)),
    "stripPort": GoFunc("stripPort", strip_port, (STRING,)),
    "stripDomain": GoFunc("stripDomain", strip_domain, (STRING,)),
    "humanize": GoFunc("humanize", humanize, (ANY,)),
    "humanize1024": GoFunc("humanize1024", humanize1024, (ANY,)),
    "humanizeDuration": GoFunc("humanizeDuration", humanize_duration, (ANY,)),
    "humanizePercentage": GoFunc("humanizePercentage", humanize_percentage, (ANY,)),
    "humanizeTimestamp": GoFunc("humanizeTimestamp", humanize_timestamp, (ANY,)),
    "toTime": GoFunc("toTime", to_time, (ANY,)),
    "toDuration": GoFunc("toDuration", to_duration, (ANY,)),
    "parseDuration": GoFunc("parseDuration", parse_duration, (STRING,)),
    "urlQueryEscape": GoFunc("urlQueryEscape", query_escape, (STRING,)),
}


def prometheus_funcs(
    query_fn: QueryFunc | None = None,
    timestamp: float = 0.0,
    external_url: str = "",
) -> dict[str, GoFunc]:
    """Prometheus's template functions, bound to a query engine, an instant and a URL.

    `query_fn(expr)` returns the instant-vector result as samples (a Sample,
    a ``(labels, value)`` pair, or an object with ``labels``/``metric`` and
    ``value``). `timestamp` is the evaluation time in Unix seconds (``now``
    returns it at millisecond precision); `external_url` is Prometheus's
    --web.external-url (``externalURL``, ``pathPrefix``).
    """
    return {**_STATIC_FUNCS, **_bound_funcs(query_fn, timestamp, external_url)}


def prometheus_template_set(
    query_fn: QueryFunc | None = None, timestamp: float = 0.0, external_url: str = ""
) -> TemplateSet:
    """A TemplateSet with Prometheus's functions and option missingkey=zero."""
    return TemplateSet(prometheus_funcs(query_fn, timestamp, external_url), missingkey="zero")


class AlertTemplateData:
    """Dot in a rule's label and annotation templates."""

    go_type = "struct { Labels map[string]string; ExternalLabels map[string]string; ... }"
    go_fields = ("Labels", "ExternalLabels", "ExternalURL", "Value")
    __slots__ = ("ExternalLabels", "ExternalURL", "Labels", "Value")

    def __init__(
        self,
        labels: Mapping[str, str],
        external_labels: Mapping[str, str],
        external_url: str,
        value: Any,
    ) -> None:
        self.Labels = StrMap(labels)
        self.ExternalLabels = StrMap(external_labels)
        self.ExternalURL = external_url
        self.Value = value


_ALERT_VARS = ("$labels", "$externalLabels", "$externalURL", "$value")
# One shared set parses (and caches) every alert text; the evaluation-bound
# functions read the per-call _Evaluation from the executor state.
_ALERT_SET = TemplateSet(
    {**_STATIC_FUNCS, **_CONTEXT_FUNCS}, missingkey="zero", text_cache_size=16_384
)


def expand_alert_template(
    text: str,
    labels: Mapping[str, str],
    external_labels: Mapping[str, str] | None = None,
    value: float = 0.0,
    external_url: str = "",
    query_fn: QueryFunc | None = None,
    timestamp: float = 0.0,
    *,
    name: str = "__alert",
    errors: Literal["raise", "inline"] = "raise",
) -> str:
    """Expand one alert label or annotation template as Prometheus does.

    Raises TemplateError (parse or execution) unless ``errors="inline"``,
    which returns Prometheus's ``<error expanding template: ...>`` text.
    `name` appears in errors; Prometheus uses ``__alert_<rule name>``.
    Parsed texts are cached, so the same annotation is parsed once.
    """
    if "{{" not in text:
        return text
    data = AlertTemplateData(labels, external_labels or {}, external_url, value)
    variables = {
        "$labels": data.Labels,
        "$externalLabels": data.ExternalLabels,
        "$externalURL": external_url,
        "$value": value,
    }
    evaluation = _Evaluation(query_fn, timestamp, external_url)
    try:
        return _ALERT_SET.execute_text(
            text, data, name=name, variables=variables, context=evaluation
        )
    except TemplateError as exc:
        if errors == "inline":
            return f"<error expanding template: {exc}>"
        raise


def check_alert_template(text: str, *, name: str = "__alert") -> None:
    """Parse an alert template (as `promtool check rules` does); raise TemplateParseError."""
    if "{{" in text:
        _ALERT_SET.parse_text(text, name=name, variables=_ALERT_VARS)


def samples(items: Sequence[tuple[Mapping[str, str], float]]) -> QueryResult:
    """Build a query result from (labels, value) pairs, for tests and callers."""
    return QueryResult(Sample(labels, v) for labels, v in items)


# --- expansion for fleets ----------------------------------------------------------

# Functions whose result depends on the evaluation rather than the labels.
_EVALUATION_FUNCS = frozenset({"query", "now", "tmpl"})


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, ListNode):
        yield from node.nodes
    elif isinstance(node, ActionNode):
        yield node.pipe
    elif isinstance(node, PipeNode):
        yield from node.decl
        yield from node.cmds
    elif isinstance(node, CommandNode):
        yield from node.args
    elif isinstance(node, BranchNode):
        yield node.pipe
        yield node.list
        if node.else_list is not None:
            yield node.else_list
    elif isinstance(node, TemplateNode):
        if node.pipe is not None:
            yield node.pipe
    elif isinstance(node, ChainNode):
        yield node.node


def _reads_evaluation(node: Node) -> bool:
    """Whether a subtree may read $value, dot as a whole, or evaluation-bound functions.

    Conservative: any use of dot (which is the alert data at the top level)
    counts, even inside range/with where dot is something else.
    """
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, DotNode):
            return True
        if isinstance(n, VariableNode) and (
            n.ident[0] == "$value"
            or (n.ident[0] == "$" and (len(n.ident) == 1 or n.ident[1] == "Value"))
        ):
            return True
        if isinstance(n, FieldNode) and n.ident[0] == "Value":
            return True
        if isinstance(n, IdentifierNode) and n.name in _EVALUATION_FUNCS:
            return True
        stack.extend(_children(n))
    return False


def depends_only_on_labels(text: str, *, name: str = "__alert") -> bool:
    """True if an alert template's output is fixed by its labels (and external labels/URL).

    Such a template (no ``$value``, ``.Value``, ``query``, ``now``, ``tmpl``,
    nor dot as a whole) expands to the same text for the same label set, so
    callers may reuse the result across evaluations. Raises
    TemplateParseError for an invalid template.
    """
    if "{{" not in text:
        return True
    trees = _ALERT_SET.parse_text(text, name=name, variables=_ALERT_VARS)
    return not any(_reads_evaluation(tree.root) for tree in trees.values())


class AlertTemplateExpander:
    """Expands alert templates for a whole fleet, reusing results that cannot change.

    Bound to one rule group's external labels, external URL and query
    engine. A template that depends only on labels (see
    `depends_only_on_labels`) is expanded once per label set and then served
    from memory; the others are expanded on every call. `labels_key` lets a
    caller that already identifies label sets (a series fingerprint) skip
    hashing the labels. The memo holds at most `max_entries` results and is
    dropped wholesale when full.
    """

    def __init__(
        self,
        external_labels: Mapping[str, str] | None = None,
        external_url: str = "",
        query_fn: QueryFunc | None = None,
        *,
        max_entries: int = 200_000,
    ) -> None:
        self.external_labels = dict(external_labels or {})
        self.external_url = external_url
        self.query_fn = query_fn
        self.max_entries = max_entries
        self._labels_only: dict[tuple[str, str], bool] = {}
        self._memo: dict[tuple[str, str, Any], str] = {}

    def expand(
        self,
        text: str,
        labels: Mapping[str, str],
        value: float = 0.0,
        timestamp: float = 0.0,
        *,
        name: str = "__alert",
        errors: Literal["raise", "inline"] = "raise",
        labels_key: Any = None,
    ) -> str:
        if "{{" not in text:
            return text
        kind = (name, text)
        labels_only = self._labels_only.get(kind)
        if labels_only is None:
            try:
                labels_only = depends_only_on_labels(text, name=name)
            except TemplateError:
                labels_only = False  # let expansion report the error as asked
            self._labels_only[kind] = labels_only
        if not labels_only:
            return self._expand(text, labels, value, timestamp, name, errors)
        key = (name, text, labels_key if labels_key is not None else frozenset(labels.items()))
        hit = self._memo.get(key)
        if hit is None:
            hit = self._expand(text, labels, value, timestamp, name, errors)
            if len(self._memo) >= self.max_entries:
                self._memo.clear()
            self._memo[key] = hit
        return hit

    def _expand(
        self,
        text: str,
        labels: Mapping[str, str],
        value: float,
        timestamp: float,
        name: str,
        errors: Literal["raise", "inline"],
    ) -> str:
        return expand_alert_template(
            text,
            labels,
            self.external_labels,
            value,
            self.external_url,
            self.query_fn,
            timestamp,
            name=name,
            errors=errors,
        )
