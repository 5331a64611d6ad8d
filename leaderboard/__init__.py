"""Leaderboard (installs as ``vjepa_bench.leaderboard``): submissions will be ``results.json`` files under
``leaderboard/submissions/``; validation and the board builder are a later issue."""
