"""Fleet simulator: a vendor-style zone-status API with injectable faults and ground truth.

Start one with `start_simulator(SimConfig(...), clock)` or `tocsin sim`; see
docs/simulator.md.
"""

from tocsin.sim.config import FaultSpec, SimConfig
from tocsin.sim.engine import FaultError
from tocsin.sim.scenario import load_scenario, parse_scenario
from tocsin.sim.simulator import FleetSimulator, start_simulator
from tocsin.sim.truth import TruthRecord, read_truth

__all__ = [
    "FaultError",
    "FaultSpec",
    "FleetSimulator",
    "SimConfig",
    "TruthRecord",
    "load_scenario",
    "parse_scenario",
    "read_truth",
    "start_simulator",
]
