"""How fast are Go-syntax templates in tocsin? Parse once, execute many.

Measures, best of several repeats:
  - expanding typical Prometheus alert annotations (cached parse);
  - parsing an annotation cold, and parsing the default notification templates;
  - rendering Alertmanager default templates for a 10-alert group;
  - annotations for a fleet: 100,000 alerts x 2 annotations.

    .venv/bin/python bench/templates.py [--repeat 5] [--fleet 100000]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import timeit
from collections.abc import Callable

from tocsin.alerting.model import Alert
from tocsin.clock import FakeClock
from tocsin.templating import TemplateSet
from tocsin.templating.alertmanager import (
    alertmanager_funcs,
    alertmanager_template_set,
    build_template_data,
    default_templates_text,
)
from tocsin.templating.prometheus import (
    AlertTemplateExpander,
    expand_alert_template,
    prometheus_funcs,
)

SIMPLE = "{{ $labels.zone }} in {{ $labels.venue }} is down"
TYPICAL = (
    "{{ $labels.instance }} of job {{ $labels.job }} has been down for more than "
    "5 minutes (value {{ $value | humanize }})."
)
COMPLEX = (
    "{{ if gt $value 0.5 }}High{{ else }}Low{{ end }} error ratio "
    "{{ $value | humanizePercentage }} on {{ $labels.instance | stripPort }}: "
    "{{ range $k, $v := $labels }}{{ $k }}={{ $v }} {{ end }}"
    "{{ with $externalLabels.region }}region {{ . }}{{ else }}no region{{ end }}"
)
LABELS = {
    "instance": "zone-123.stockholm-1.example:9100",
    "job": "players",
    "venue": "stockholm-1",
    "zone": "lobby",
    "importance": "critical",
}


def per_call_us(fn: Callable[[], object], number: int, repeat: int) -> float:
    """CPU microseconds per call, best of `repeat` (CPU time: robust on a busy host)."""
    best = min(timeit.repeat(fn, number=number, repeat=repeat, timer=time.process_time))
    return best / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fleet", type=int, default=100_000)
    args = parser.parse_args()
    rep = args.repeat

    print(f"python {sys.version.split()[0]} on {platform.machine()} ({platform.system()})")
    print()
    print(f"{'case':58} {'CPU us/call':>12}")

    def row(name: str, us: float) -> None:
        print(f"{name:58} {us:12.1f}")

    for name, text in (("simple", SIMPLE), ("typical", TYPICAL), ("complex", COMPLEX)):
        expand_alert_template(text, LABELS, {"region": "eu"}, 0.73, timestamp=1.7e9)
        us = per_call_us(
            lambda t=text: expand_alert_template(
                t, LABELS, {"region": "eu"}, 0.73, timestamp=1.7e9
            ),
            20_000,
            rep,
        )
        row(f"expand_alert_template, {name} annotation (cached)", us)

    prom_funcs = prometheus_funcs()

    def parse_cold() -> None:
        TemplateSet(prom_funcs, missingkey="zero").parse_text(
            TYPICAL, variables=("$labels", "$externalLabels", "$externalURL", "$value")
        )

    row("parse typical annotation (cold, new set)", per_call_us(parse_cold, 2_000, rep))

    am_funcs = alertmanager_funcs(FakeClock(1.7e9))
    defaults = default_templates_text()

    def parse_defaults() -> None:
        TemplateSet(am_funcs, missingkey="zero").parse("default.tmpl", defaults)

    row("parse default.tmpl (cold)", per_call_us(parse_defaults, 20, rep))

    tset = alertmanager_template_set(clock=FakeClock(1.7e9))
    alerts = [
        (
            Alert(
                labels={**LABELS, "alertname": "ZoneDown", "zone": f"zone-{i}"},
                annotations={"summary": f"zone-{i} is down", "description": "No answer for 5m."},
                starts_at=1.7e9 - 60 * i,
                generator_url="http://tocsin/graph",
            ),
            "firing" if i % 3 else "resolved",
            "",
        )
        for i in range(10)
    ]
    data = build_template_data("venue-it", None, alerts, {"alertname": "ZoneDown"}, "http://t")
    for name, html in (
        ("__subject", False),
        ("slack.default.text", False),
        ("opsgenie.default.description", False),
        ("email.default.html", True),
    ):
        us = per_call_us(lambda n=name, h=html: tset.execute(n, data, html=h), 500, rep)
        row(f"render {name} (10 alerts)", us)

    def build() -> None:
        build_template_data("venue-it", None, alerts, {"alertname": "ZoneDown"}, "http://t")

    row("build_template_data (10 alerts)", per_call_us(build, 2_000, rep))

    n = args.fleet
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        labels = {**LABELS, "zone": f"zone-{i}"}
        expand_alert_template(SIMPLE, labels, {}, 0.0, timestamp=1.7e9)
        expand_alert_template(TYPICAL, labels, {}, 0.0, timestamp=1.7e9)
    wall = time.perf_counter() - start_wall
    cpu = time.process_time() - start_cpu
    print()
    print(f"fleet: {n:,} alerts x 2 annotations: {wall:.2f} s wall, {cpu:.2f} s CPU")
    print(f"       {2 * n / cpu:,.0f} expansions per CPU second")

    # The same fleet through AlertTemplateExpander: the simple annotation
    # reads only labels and is served from memory after the first evaluation.
    expander = AlertTemplateExpander({}, "", None)
    fleet = [{**LABELS, "zone": f"zone-{i}"} for i in range(n)]
    for evaluation in (1, 2):
        start_cpu = time.process_time()
        for i, labels in enumerate(fleet):
            expander.expand(SIMPLE, labels, 0.0, 1.7e9, labels_key=i)
            expander.expand(TYPICAL, labels, 0.0, 1.7e9, labels_key=i)
        cpu = time.process_time() - start_cpu
        print(
            f"expander, evaluation {evaluation}: {cpu:.2f} s CPU "
            f"({2 * n / cpu:,.0f} annotations per CPU second)"
        )


if __name__ == "__main__":
    main()
