"""tocsin: monitoring and alerting engine for large fleets."""

__version__ = "0.1.0"
