"""Hydra configs: one per command (eval, collect, pretrain, train_ac, bench_*), groups env/ agent/ planner/ camera/.

Importing this package (Hydra does, to read ``pkg://vjepa_bench.configs``) registers the typed schemas the YAML
files build on (``vjepa_bench.schema``), so composing a config from a script or a test needs no extra step.
"""

from vjepa_bench.schema import register_schemas

register_schemas()
