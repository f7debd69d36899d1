"""How fast are the alerting decisions: config load, routing, inhibition, silences?

Builds an Alertmanager config for a fleet (regions x venues routes, inhibit
rules), then decides for N alerts (default 100,000 zone alerts): route
(receivers + group key), inhibition against all of them firing, and
silencing against S silences (default 1,000, one per venue). Prints
decisions per second for each; no network, no sleeping.

    .venv/bin/python bench/alerting_decisions.py [--alerts 100000] [--silences 1000]
"""

from __future__ import annotations

import argparse
import random
import time

from tocsin.alerting.config import parse_alertmanager_config
from tocsin.alerting.inhibit import Inhibitor
from tocsin.alerting.matchers import parse_matchers
from tocsin.alerting.mute import MuteChain, TimeMuter
from tocsin.alerting.routing import build_tree
from tocsin.alerting.silences import Silences
from tocsin.clock import FakeClock

REGIONS = ["north", "south", "east", "west", "central"]


def make_config(venues_per_region: int) -> str:
    lines = [
        "route:",
        "  receiver: default",
        "  group_by: [alertname, venue]",
        "  routes:",
        "    - matchers: ['severity=\"info\"']",
        "      receiver: blackhole",
    ]
    for region in REGIONS:
        lines += [
            f"    - matchers: ['region=\"{region}\"']",
            f"      receiver: {region}-it",
            "      routes:",
            "        - matchers: ['importance=\"critical\"']",
            "          receiver: support",
            "          continue: true",
        ]
        for v in range(venues_per_region):
            lines += [
                f"        - matchers: ['venue=\"{region}-{v}\"', 'severity=~\"critical|high\"']",
                f"          receiver: {region}-it",
                "          group_wait: 0s",
                "          mute_time_intervals: [night]",
            ]
    lines += [
        "inhibit_rules:",
        "  - source_matchers: ['alertname=\"VenueDown\"']",
        "    target_matchers: ['alertname=\"ZoneDown\"']",
        "    equal: [venue]",
        "  - source_matchers: ['severity=\"critical\"']",
        "    target_matchers: ['severity=~\"high|medium\"']",
        "    equal: [alertname, zone]",
        "time_intervals:",
        "  - name: night",
        "    time_intervals: [{times: [{start_time: '00:00', end_time: '06:00'}]}]",
        "receivers:",
        "  - name: default",
        "  - name: blackhole",
        "  - name: support",
    ]
    lines += [f"  - name: {r}-it" for r in REGIONS]
    return "\n".join(lines) + "\n"


def make_alerts(n: int, venues_per_region: int, rng: random.Random) -> list[dict[str, str]]:
    out = []
    for i in range(n):
        region = REGIONS[i % len(REGIONS)]
        venue = f"{region}-{rng.randrange(venues_per_region * 2)}"  # half match a venue route
        out.append(
            {
                "alertname": "VenueDown" if i % 50 == 0 else "ZoneDown",
                "region": region,
                "venue": venue,
                "zone": f"zone-{i}",
                "importance": "critical" if i % 20 == 0 else "normal",
                "severity": rng.choice(["critical", "high", "medium", "info"]),
            }
        )
    return out


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s ({seconds:.2f} s)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=100_000)
    ap.add_argument("--venues", type=int, default=40, help="venue routes per region")
    ap.add_argument("--silences", type=int, default=1_000)
    args = ap.parse_args()
    rng = random.Random(1)

    text = make_config(args.venues)
    t = time.perf_counter()
    cfg = parse_alertmanager_config(text, "bench.yml")
    tree = build_tree(cfg)
    load_s = time.perf_counter() - t
    routes = len(tree.walk())
    print(f"config: {routes} routes, {len(text) / 1024:.0f} KiB, load+build {load_s * 1000:.0f} ms")

    alerts = make_alerts(args.alerts, args.venues, rng)

    t = time.perf_counter()
    keys = set()
    for labels in alerts:
        for route in tree.match(labels):
            keys.add(route.group_key(labels))
    route_s = time.perf_counter() - t
    print(f"routing + group key: {rate(len(alerts), route_s)}, {len(keys):,} groups")

    inhibitor = Inhibitor.from_config(cfg)
    t = time.perf_counter()
    inhibitor.set_firing(alerts)
    index_s = time.perf_counter() - t
    t = time.perf_counter()
    inhibited = sum(inhibitor.is_inhibited(labels)[0] for labels in alerts)
    inhibit_s = time.perf_counter() - t
    print(
        f"inhibition: index {len(alerts):,} firing in {index_s:.2f} s, "
        f"decide {rate(len(alerts), inhibit_s)}, {inhibited:,} inhibited"
    )

    clock = FakeClock(start=1_700_000_000.0)
    silences = Silences(clock)
    for i in range(args.silences):
        region = REGIONS[i % len(REGIONS)]
        silences.add(
            parse_matchers(f'venue="{region}-{i // len(REGIONS)}", severity!="critical"'),
            clock.now() + 3600,
        )
    silences.add(parse_matchers('zone=~"zone-1.*7"'), clock.now() + 3600)  # one unkeyed
    t = time.perf_counter()
    silenced = sum(bool(silences.is_silenced(labels)) for labels in alerts)
    sil_s = time.perf_counter() - t
    print(f"silences ({len(silences):,}): {rate(len(alerts), sil_s)}, {silenced:,} alerts silenced")

    chain = MuteChain([silences, inhibitor, TimeMuter(cfg.time_interval_set(), ["night"])])
    now = clock.now()
    t = time.perf_counter()
    muted = sum(chain.mutes(labels, now) is not None for labels in alerts)
    chain_s = time.perf_counter() - t
    print(f"mute chain (silence, inhibit, time): {rate(len(alerts), chain_s)}, {muted:,} muted")


if __name__ == "__main__":
    main()
