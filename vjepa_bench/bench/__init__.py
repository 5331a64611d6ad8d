"""Performance benchmarks behind ``vjepa-bench bench sim|models|planner``: numbers measured side by side."""
