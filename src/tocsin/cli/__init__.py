"""cli: the `tocsin` command. Each command group lives in its own module."""
