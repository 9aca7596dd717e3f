"""jepa-bench: train, compare and diagnose small JEPA world models."""

__version__ = "0.1.0"
