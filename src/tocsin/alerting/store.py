"""Alert identity and the set of active alerts.

An alert is identified by its label set. The fingerprint is a stable hash of
it: the label names sorted, each `name 0xff value 0xff` fed to BLAKE2b with an
8-byte digest, printed as 16 lower-case hex digits. It depends only on the
labels (not on their order, annotations or times), is the same in every
process and release, and is what the API shows as `fingerprint`.

Merging follows Alertmanager's in-memory provider: an alert pushed again
with an activity range overlapping the stored one is merged into it (the
earliest `startsAt` is kept, the newer annotations and `endsAt` win, except
that an explicit end time beats one derived from `resolve_timeout`); an alert
whose range does not overlap (it fired again after resolving) replaces the
stored one.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from tocsin.alerting.matchers import is_valid_label_name
from tocsin.alerting.model import Alert

_SEP = b"\xff"


def fingerprint(labels: Mapping[str, str]) -> str:
    """The stable 16-hex-digit identity of a label set (see module docstring)."""
    h = hashlib.blake2b(digest_size=8)
    update = h.update
    for name in sorted(labels):
        update(name.encode())
        update(_SEP)
        update(labels[name].encode())
        update(_SEP)
    return h.hexdigest()


class AlertValidationError(ValueError):
    """An alert that cannot be accepted, with Alertmanager's reason."""


@dataclass(slots=True)
class StoredAlert:
    """An alert as the dispatcher keeps it: complete times, identity, update stamp.

    `timeout` is True when `ends_at` was derived from `resolve_timeout`
    because the sender gave none.

    Treat it as immutable: a change makes a new one (`dataclasses.replace`).
    It is not declared frozen only because a frozen dataclass's `__init__`
    costs five times as much, and every accepted alert makes one.
    """

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float
    ends_at: float
    generator_url: str
    updated_at: float
    timeout: bool
    fingerprint: str

    def resolved(self, now: float) -> bool:
        return self.ends_at <= now

    def to_dict(self) -> dict[str, object]:
        return {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "generator_url": self.generator_url,
            "updated_at": self.updated_at,
            "timeout": self.timeout,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> StoredAlert:
        labels = {str(k): str(v) for k, v in dict(d["labels"]).items()}  # type: ignore[call-overload]
        annotations = dict(d.get("annotations") or {})  # type: ignore[call-overload]
        return cls(
            labels=labels,
            annotations={str(k): str(v) for k, v in annotations.items()},
            starts_at=float(d["starts_at"]),  # type: ignore[arg-type]
            ends_at=float(d["ends_at"]),  # type: ignore[arg-type]
            generator_url=str(d.get("generator_url", "")),
            updated_at=float(d.get("updated_at", 0.0)),  # type: ignore[arg-type]
            timeout=bool(d.get("timeout", False)),
            fingerprint=str(d.get("fingerprint") or fingerprint(labels)),
        )


def validate(alert: Alert) -> None:
    """Raise AlertValidationError naming what is wrong, as Alertmanager words it.

    Labels with an empty value mean "no such label" and are dropped first (by
    `complete`), as Alertmanager's API does.
    """
    labels = {k: v for k, v in alert.labels.items() if v != ""}
    if not labels:
        raise AlertValidationError("at least one label pair required")
    for name, value in labels.items():
        if not is_valid_label_name(name, classic=False) or not isinstance(value, str):
            raise AlertValidationError(f"invalid label set: invalid name {name!r}")
    for name in alert.annotations:
        if not is_valid_label_name(name, classic=False):
            raise AlertValidationError(f"invalid annotations: invalid name {name!r}")
    for what, t in (("start", alert.starts_at), ("end", alert.ends_at)):
        if t is not None and not math.isfinite(t):
            raise AlertValidationError(f"{what} time is not a finite number")
    if (
        alert.starts_at is not None
        and alert.ends_at is not None
        and alert.ends_at < alert.starts_at
    ):
        raise AlertValidationError("start time must be before end time")


def complete(alert: Alert, now: float, resolve_timeout: float) -> StoredAlert:
    """Fill in what the sender left out, as Alertmanager's API does.

    No `startsAt`: the `endsAt` if given, else now. No `endsAt`: now +
    resolve_timeout, marked as derived (AlertValidationError if that is
    before the start). Empty-valued labels are dropped. Call `validate` first.
    """
    return _completed(alert, _non_empty(alert.labels), now, resolve_timeout)


def accept(alert: Alert, now: float, resolve_timeout: float) -> StoredAlert:
    """`validate` then `complete`, in one pass over the labels (the intake's
    per-alert path). Raises AlertValidationError as `validate` does."""
    labels = _non_empty(alert.labels)
    if (
        not labels
        or "" in labels
        or "" in alert.annotations
        or not all_strings(labels.values())
        or not _times_ok(alert.starts_at, alert.ends_at)
    ):
        validate(alert)  # the rare alert that may be invalid: raise its exact reason
    return _completed(alert, labels, now, resolve_timeout)


_STR = frozenset({str})
_isfinite = math.isfinite


def all_strings(values: Iterable[object]) -> bool:
    """Is every value a `str` (exactly, as JSON gives them)? One C-level pass."""
    return _STR.issuperset(map(type, values))


def _times_ok(starts: float | None, ends: float | None) -> bool:
    if starts is None:
        return ends is None or _isfinite(ends)
    if ends is None:
        return _isfinite(starts)
    return _isfinite(starts) and _isfinite(ends) and starts <= ends


def _non_empty(labels: Mapping[str, str]) -> dict[str, str]:
    """A copy of `labels` without the empty-valued ones (they mean "no such label")."""
    if "" in labels.values():
        return {k: v for k, v in labels.items() if v != ""}
    return dict(labels)


def _completed(
    alert: Alert, labels: dict[str, str], now: float, resolve_timeout: float
) -> StoredAlert:
    starts = alert.starts_at
    if starts is None:
        starts = now if alert.ends_at is None else alert.ends_at
    timeout = alert.ends_at is None
    ends = now + resolve_timeout if alert.ends_at is None else alert.ends_at
    if ends < starts:
        # A start further ahead than resolve_timeout, with no end: Alertmanager
        # derives the end first and then refuses the alert, and so does tocsin.
        raise AlertValidationError("start time must be before end time")
    return StoredAlert(
        labels,
        dict(alert.annotations),
        starts,
        ends,
        alert.generator_url,
        now,
        timeout,
        fingerprint(labels),
    )


def notification_order(a: StoredAlert) -> tuple[object, ...]:
    """Alertmanager's order of alerts in a notification: by `job`, then
    `instance` (alerts without one last), then by the whole label set."""
    key: list[object] = []
    for name in ("job", "instance"):
        value = a.labels.get(name)
        key.append((1, "") if value is None else (0, value))
    key.append(tuple(sorted(a.labels.items())))
    return tuple(key)


def merge(old: StoredAlert, new: StoredAlert, now: float) -> StoredAlert:
    """Combine two versions of one alert (Alertmanager's Alert.Merge).

    The more recently updated one is the base and the earliest start wins.
    If the base is resolved, a later end of the other (also resolved) version
    wins; if it is firing, a later explicit (not derived) end wins.
    """
    if new.updated_at < old.updated_at:
        old, new = new, old
    ends = new.ends_at
    if new.resolved(now):
        if old.resolved(now) and old.ends_at > new.ends_at:
            ends = old.ends_at
    elif old.ends_at > new.ends_at and not old.timeout:
        ends = old.ends_at
    return replace(new, starts_at=min(old.starts_at, new.starts_at), ends_at=ends)


def overlaps(old: StoredAlert, new: StoredAlert) -> bool:
    """Whether `new`'s activity range overlaps the stored one (then they merge)."""
    return (old.starts_at < new.ends_at < old.ends_at) or (
        old.starts_at < new.starts_at < old.ends_at
    )


@dataclass(slots=True)
class Change:
    """What a put did to one alert, for history and flap counting."""

    alert: StoredAlert
    old_state: str  # "" (new), "firing" or "resolved"
    new_state: str
    at: float | None = None  # when, if not when it was noticed


def timeout_resolution(alert: StoredAlert) -> Change:
    """The change of an alert that resolved because nobody renewed it."""
    return Change(alert, "firing", "resolved", at=alert.ends_at)


@dataclass
class ActiveAlerts:
    """Every alert the dispatcher knows, by fingerprint."""

    _by_fp: dict[str, StoredAlert] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._by_fp)

    def __iter__(self) -> Iterator[StoredAlert]:
        return iter(list(self._by_fp.values()))

    def get(self, fp: str) -> StoredAlert | None:
        return self._by_fp.get(fp)

    def upsert(self, alert: StoredAlert, now: float) -> tuple[StoredAlert, list[Change]]:
        """Store `alert`, merging with a known version; the changes of state it
        makes (a resolution by timeout noticed only now comes first)."""
        old = self._by_fp.get(alert.fingerprint)
        if old is None:  # the common case, first
            self._by_fp[alert.fingerprint] = alert
            return alert, [Change(alert, "", "resolved" if alert.ends_at <= now else "firing")]
        if overlaps(old, alert):
            alert = merge(old, alert, now)
        self._by_fp[alert.fingerprint] = alert
        new_state = "resolved" if alert.resolved(now) else "firing"
        old_state = "resolved" if old.resolved(now) else "firing"
        if old_state == new_state:
            return alert, []
        changes = []
        if old_state == "resolved" and old.timeout:
            changes.append(timeout_resolution(old))
        changes.append(Change(alert, old_state, new_state))
        return alert, changes

    def load(self, alerts: Iterable[StoredAlert]) -> None:
        for a in alerts:
            self._by_fp[a.fingerprint] = a

    def delete(self, fps: Sequence[str]) -> None:
        for fp in fps:
            self._by_fp.pop(fp, None)
