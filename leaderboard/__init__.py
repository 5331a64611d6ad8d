"""The leaderboard (``vjepa_bench.leaderboard``): tracks pinned by a lock file, checkable submissions, a replay
verifier, a byte-deterministic board (Markdown, JSON, one HTML page) and a small submission server."""
