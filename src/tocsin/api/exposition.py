"""Prometheus text exposition of per-target state.

100,000 targets make 100,000 samples per scrape; building them through
prometheus_client's objects costs several times more than formatting
cached label strings, so target series are rendered here directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tocsin.api.facade import TargetRow
from tocsin.detect.types import TargetState

_UP_HELP = (
    "# HELP tocsin_target_up 1 if the target is up, 0 if it is down (confirmed by detection). "
    "Unknown targets have no sample.\n# TYPE tocsin_target_up gauge\n"
)
_FLAP_HELP = (
    "# HELP tocsin_target_flapping 1 while detection considers the target flapping.\n"
    "# TYPE tocsin_target_flapping gauge\n"
)
_OFF_HELP = (
    "# HELP tocsin_target_expected_off 1 while the target is down outside its opening hours.\n"
    "# TYPE tocsin_target_expected_off gauge\n"
)


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def label_string(target_id: str, source: str, labels: Mapping[str, str]) -> str:
    """`{target="..",source="..",k="v"}`: the target's identity as exposition labels."""
    parts = [f'target="{escape_label_value(target_id)}"', f'source="{escape_label_value(source)}"']
    parts.extend(
        f'{k}="{escape_label_value(v)}"'
        for k, v in sorted(labels.items())
        if k not in ("target", "source")
    )
    return "{" + ",".join(parts) + "}"


class TargetExposition:
    """Renders target series, caching each target's label string."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], tuple[Mapping[str, str], str]] = {}

    def _labels(self, t: TargetRow) -> str:
        key = (t.source, t.target_id)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == t.labels:
            return hit[1]
        text = label_string(t.target_id, t.source, t.labels)
        self._cache[key] = (t.labels, text)
        return text

    def render(self, targets: Iterable[TargetRow]) -> str:
        up: list[str] = []
        flapping: list[str] = []
        off: list[str] = []
        for t in targets:
            state = t.state
            if state is TargetState.UP:
                up.append(f"tocsin_target_up{self._labels(t)} 1\n")
            elif state is TargetState.DOWN:
                up.append(f"tocsin_target_up{self._labels(t)} 0\n")
            elif state is TargetState.FLAPPING:
                flapping.append(f"tocsin_target_flapping{self._labels(t)} 1\n")
            elif state is TargetState.EXPECTED_OFF:
                up.append(f"tocsin_target_up{self._labels(t)} 0\n")
                off.append(f"tocsin_target_expected_off{self._labels(t)} 1\n")
        return "".join([_UP_HELP, *up, _FLAP_HELP, *flapping, _OFF_HELP, *off])
