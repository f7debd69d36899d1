"""detect: observations in, trustworthy target states (with reasons) out.

See docs/detection.md. The public surface is re-exported here.
"""

from tocsin.detect.config import DetectionConfig
from tocsin.detect.detector import Detector, Snapshot
from tocsin.detect.events import SourceEvent, StateChange, SweepOutcome
from tocsin.detect.status import SourceStatus, TargetStatus
from tocsin.detect.types import SourceState, TargetState

__all__ = [
    "DetectionConfig",
    "Detector",
    "Snapshot",
    "SourceEvent",
    "SourceState",
    "SourceStatus",
    "StateChange",
    "SweepOutcome",
    "TargetState",
    "TargetStatus",
]
