"""Prometheus rule files, evaluation and alert semantics.

`load_rule_files` parses and validates rule files into `GroupSpec`s;
`RuleManager` evaluates them on a Clock, writes recording results and the
ALERTS / ALERTS_FOR_STATE series, and hands alerts to an AlertSink.
"""

from tocsin.rules.alerting import ActiveAlert, AlertingRule, AlertState
from tocsin.rules.group import Group
from tocsin.rules.loader import load_rule_file, load_rule_files, parse_rules
from tocsin.rules.manager import RuleManager
from tocsin.rules.model import Datasource, GroupSpec, RuleSpec
from tocsin.rules.recording import RecordingRule

__all__ = [
    "ActiveAlert",
    "AlertState",
    "AlertingRule",
    "Datasource",
    "Group",
    "GroupSpec",
    "RecordingRule",
    "RuleManager",
    "RuleSpec",
    "load_rule_file",
    "load_rule_files",
    "parse_rules",
]
