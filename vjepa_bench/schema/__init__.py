"""Typed configs: one dataclass per command, registered in Hydra's ConfigStore and parsed once by the CLI.

The YAML files in ``configs/`` hold values only; the types, ranges and defaults live here (or, for a dataclass that
the library uses directly such as :class:`~vjepa_bench.planning.config.PlannerConfig`, in that dataclass). The CLI
composes a command's YAML onto its schema, turns it into the dataclass with :func:`parse`, and hands the typed
object to the command. Importing this package loads no torch: the schemas that need it (the agents', eval's,
the trainers') are imported by name when a command registers them (``register_schemas``).
"""

from vjepa_bench.schema.collect import CollectConfig
from vjepa_bench.schema.env import CameraConfig, EnvConfig
from vjepa_bench.schema.parse import command_schema, from_values, parse, register_schemas

__all__ = ["CameraConfig", "CollectConfig", "EnvConfig", "command_schema", "from_values", "parse", "register_schemas"]
