"""Evaluation: the episode runner, success statistics with Wilson intervals, and the ``results.json`` schema."""
