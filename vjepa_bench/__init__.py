"""vjepa-bench: measure whether a visual world model can plan."""

__version__ = "0.1.0"
