"""Parse and validate Prometheus rule files, as `rulefmt` does.

Parsing is strict: an unknown field is an error unless `ignore_unknown_fields`
is set (promtool's flag). Validation collects every problem with the file and
line it comes from, naming the group and rule as Prometheus does:
`rules.yml:9: group "alerts", rule 1, "InstanceDown": annotation "summary": ...`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tocsin.alerting.config.durations import parse_go_duration, parse_prom_duration
from tocsin.config.yamlpos import Positions, load_yaml
from tocsin.errors import ConfigError, ConfigProblem, QueryError
from tocsin.promql.engine import parse as parse_promql
from tocsin.rules.model import Datasource, GroupSpec, RuleSpec
from tocsin.rules.rawyaml import RawScalars
from tocsin.templating import TemplateError
from tocsin.templating.prometheus import check_alert_template

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")

_FILE_FIELDS = {"groups"}
_GROUP_FIELDS = {"name", "interval", "query_offset", "limit", "rules", "labels", "datasource"}
_RULE_FIELDS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
_DS_FIELDS = {
    "url",
    "headers",
    "basic_auth",
    "bearer_token",
    "bearer_token_file",
    "timeout",
    "tls_insecure_skip_verify",
}
_AUTH_FIELDS = {"username", "password", "password_file"}


def load_rule_files(
    paths: Iterable[str | Path], *, ignore_unknown_fields: bool = False
) -> list[GroupSpec]:
    """Load several rule files; raise ConfigError listing every problem in all of them."""
    groups: list[GroupSpec] = []
    problems: list[ConfigProblem] = []
    for path in paths:
        try:
            groups.extend(load_rule_file(path, ignore_unknown_fields=ignore_unknown_fields))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return groups


def load_rule_file(path: str | Path, *, ignore_unknown_fields: bool = False) -> list[GroupSpec]:
    """Load one rule file; raise ConfigError listing every problem."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem(name, None, "", f"cannot read rule file: {exc}")]
        ) from None
    return parse_rules(text, name, ignore_unknown_fields=ignore_unknown_fields)


def parse_rules(text: str, file: str, *, ignore_unknown_fields: bool = False) -> list[GroupSpec]:
    """Parse rule file text; raise ConfigError listing every problem."""
    data, pos = load_yaml(text, file)
    p = _Parser(file, pos, ignore_unknown_fields, RawScalars(text))
    groups = p.file(data)
    if p.problems:
        raise ConfigError(p.problems)
    return groups


class _Parser:
    def __init__(self, file: str, pos: Positions, ignore_unknown: bool, raw: RawScalars) -> None:
        self.file_name = file
        self.pos = pos
        self.raw = raw
        self.ignore_unknown = ignore_unknown
        self.problems: list[ConfigProblem] = []

    # helpers ------------------------------------------------------------------
    def line(self, path: Sequence[str | int]) -> int | None:
        return self.pos.locate(path)[1]

    def err(self, path: Sequence[str | int], msg: str, prefix: str = "") -> None:
        self.problems.append(ConfigProblem(self.file_name, self.line(path), "", prefix + msg))

    def mapping(self, value: Any, path: tuple[str | int, ...], what: str) -> dict[str, Any] | None:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.err(path, f"{what} must be a mapping, got {_kind(value)}")
            return None
        return dict(value)

    def unknown(
        self, data: Mapping[str, Any], allowed: set[str], path: tuple[str | int, ...], what: str
    ) -> None:
        if self.ignore_unknown:
            return
        for key in data:
            if key not in allowed:
                self.err((*path, key), f"field {key} not found in {what}")

    def string(self, value: Any, path: tuple[str | int, ...], what: str) -> str:
        if value is None:
            return ""
        if isinstance(value, str | int | float):  # bool is an int too
            raw = self.raw.get(path)
            return raw if raw is not None else str(value)
        self.err(path, f"{what} must be a string, got {_kind(value)}")
        return ""

    def str_map(self, value: Any, path: tuple[str | int, ...], what: str) -> dict[str, str]:
        m = self.mapping(value, path, what)
        if m is None:
            return {}
        return {str(k): self.string(v, (*path, k), f"{what} {k}") for k, v in m.items()}

    def duration(self, value: Any, path: tuple[str | int, ...], what: str) -> float | None:
        if value is None:
            return None
        text = self.string(value, path, what)
        try:
            return parse_prom_duration(text)
        except ValueError:
            self.err(path, f"{what}: not a valid duration string: {text!r}")
            return None

    # structure ----------------------------------------------------------------
    def file(self, data: Any) -> list[GroupSpec]:
        top = self.mapping(data, (), "a rule file")
        if top is None:
            return []
        self.unknown(top, _FILE_FIELDS, (), "rule file (only 'groups' is allowed)")
        raw_groups = top.get("groups") or []
        if not isinstance(raw_groups, list):
            self.err(("groups",), f"groups must be a list, got {_kind(raw_groups)}")
            return []
        seen: set[str] = set()
        groups = []
        for i, raw in enumerate(raw_groups):
            g = self.group(raw, ("groups", i))
            if g is None:
                continue
            if not g.name:
                self.err(("groups", i), "Groupname must not be empty")
            elif g.name in seen:
                self.err(("groups", i), f'groupname: "{g.name}" is repeated in the same file')
            seen.add(g.name)
            groups.append(g)
        return groups

    def group(self, raw: Any, path: tuple[str | int, ...]) -> GroupSpec | None:
        data = self.mapping(raw, path, "a rule group")
        if data is None:
            return None
        self.unknown(data, _GROUP_FIELDS, path, "type rulefmt.RuleGroup")
        name = self.string(data.get("name"), (*path, "name"), "name")
        interval = self.duration(data.get("interval"), (*path, "interval"), "interval")
        offset = self.duration(data.get("query_offset"), (*path, "query_offset"), "query_offset")
        limit = data.get("limit") or 0
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            self.err((*path, "limit"), f"limit must be a non-negative integer, got {limit!r}")
            limit = 0
        labels = self.str_map(data.get("labels"), (*path, "labels"), "label")
        for k in labels:
            if not LABEL_NAME.match(k) or k == "__name__":
                self.err((*path, "labels", k), f"invalid label name: {k}")
        datasource = None
        if data.get("datasource") is not None:
            datasource = self.datasource(data["datasource"], (*path, "datasource"))
        raw_rules = data.get("rules") or []
        if not isinstance(raw_rules, list):
            self.err((*path, "rules"), f"rules must be a list, got {_kind(raw_rules)}")
            raw_rules = []
        rules = []
        for j, raw_rule in enumerate(raw_rules):
            r = self.rule(raw_rule, (*path, "rules", j), name, j + 1)
            if r is not None:
                rules.append(r)
        return GroupSpec(
            name=name,
            file=self.file_name,
            rules=tuple(rules),
            interval=interval if interval else None,
            query_offset=offset,
            limit=limit,
            labels=labels,
            datasource=datasource,
            line=self.line(path),
        )

    def rule(
        self, raw: Any, path: tuple[str | int, ...], group: str, index: int
    ) -> RuleSpec | None:
        data = self.mapping(raw, path, "a rule")
        if data is None:
            return None
        self.unknown(data, _RULE_FIELDS, path, "type rulefmt.Rule")
        record = self.string(data.get("record"), (*path, "record"), "record")
        alert = self.string(data.get("alert"), (*path, "alert"), "alert")
        expr = self.string(data.get("expr"), (*path, "expr"), "expr")
        for_ = self.duration(data.get("for"), (*path, "for"), "for") or 0.0
        kff = (
            self.duration(
                data.get("keep_firing_for"), (*path, "keep_firing_for"), "keep_firing_for"
            )
            or 0.0
        )
        labels = self.str_map(data.get("labels"), (*path, "labels"), "label")
        annotations = self.str_map(data.get("annotations"), (*path, "annotations"), "annotation")
        prefix = f'group "{group}", rule {index}, "{alert or record}": '

        def bad(where: tuple[str | int, ...], msg: str) -> None:
            self.err(where, msg, prefix)

        if record and alert:
            bad((*path, "record"), "only one of 'record' and 'alert' must be set")
        if not record and not alert:
            bad(path, "one of 'record' or 'alert' must be set")
        if not expr:
            bad(path, "field 'expr' must be set in rule")
        else:
            try:
                parse_promql(expr)
            except QueryError as exc:
                bad((*path, "expr"), f"could not parse expression: {exc}")
        if record:
            if annotations:
                bad((*path, "record"), "invalid field 'annotations' in recording rule")
            if for_:
                bad((*path, "record"), "invalid field 'for' in recording rule")
            if kff:
                bad((*path, "record"), "invalid field 'keep_firing_for' in recording rule")
            if "{" in record or "}" in record:
                bad(
                    (*path, "record"),
                    f"braces present in the recording rule name; should it be in expr?: {record}",
                )
            elif not METRIC_NAME.match(record):
                bad((*path, "record"), f"invalid recording rule name: {record}")
        for k in labels:
            if not LABEL_NAME.match(k) or k == "__name__":
                bad((*path, "labels", k), f"invalid label name: {k}")
        for k in annotations:
            if not LABEL_NAME.match(k):
                bad((*path, "annotations", k), f"invalid annotation name: {k}")
        if alert:
            for kind, texts, key in (
                ("label", labels, "labels"),
                ("annotation", annotations, "annotations"),
            ):
                for k, text in texts.items():
                    try:
                        check_alert_template(text, name=f"__alert_{alert}")
                    except TemplateError as exc:
                        bad((*path, key, k), f'{kind} "{k}": {exc}')
        return RuleSpec(
            expr=expr,
            record=record,
            alert=alert,
            for_=for_,
            keep_firing_for=kff,
            labels=labels,
            annotations=annotations,
            line=self.line(path),
        )

    def datasource(self, raw: Any, path: tuple[str | int, ...]) -> Datasource | None:
        data = self.mapping(raw, path, "datasource")
        if data is None:
            return None
        # The datasource is tocsin's own: unknown fields are always errors.
        for key in data:
            if key not in _DS_FIELDS:
                self.err((*path, key), f"field {key} not found in datasource")
        url = self.string(data.get("url"), (*path, "url"), "url")
        if not url.startswith(("http://", "https://")):
            self.err((*path, "url"), f"datasource url must be an http(s) URL, got {url!r}")
        headers = self.str_map(data.get("headers"), (*path, "headers"), "header")
        auth = None
        if data.get("basic_auth") is not None:
            a = self.mapping(data["basic_auth"], (*path, "basic_auth"), "basic_auth") or {}
            for key in a:
                if key not in _AUTH_FIELDS:
                    self.err((*path, "basic_auth", key), f"field {key} not found in basic_auth")
            user = self.string(a.get("username"), (*path, "basic_auth", "username"), "username")
            password = self.string(a.get("password"), (*path, "basic_auth", "password"), "password")
            pfile = a.get("password_file")
            if pfile and password:
                self.err((*path, "basic_auth"), "at most one of password and password_file")
            elif pfile:
                password = self.secret_file(str(pfile), (*path, "basic_auth", "password_file"))
            auth = (user, password)
        token = self.string(data.get("bearer_token"), (*path, "bearer_token"), "bearer_token")
        tfile = data.get("bearer_token_file")
        if tfile and token:
            self.err(path, "at most one of bearer_token and bearer_token_file")
        elif tfile:
            token = self.secret_file(str(tfile), (*path, "bearer_token_file"))
        if token and auth:
            self.err(path, "at most one of basic_auth and bearer_token")
        timeout = 30.0
        if data.get("timeout") is not None:
            try:
                timeout = parse_go_duration(
                    self.string(data["timeout"], (*path, "timeout"), "timeout")
                )
            except ValueError as exc:
                self.err((*path, "timeout"), str(exc))
        insecure = bool(data.get("tls_insecure_skip_verify", False))
        return Datasource(
            url=url.rstrip("/"),
            headers=headers,
            basic_auth=auth,
            bearer_token=token or None,
            timeout=timeout,
            tls_insecure_skip_verify=insecure,
        )

    def secret_file(self, name: str, path: tuple[str | int, ...]) -> str:
        target = Path(name)
        if not target.is_absolute():
            target = Path(self.file_name).parent / target
        try:
            return target.read_text(encoding="utf-8").strip()
        except OSError as exc:
            self.err(path, f"cannot read {name}: {exc.strerror}")
            return ""


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__
