"""Typed configs: one dataclass per command, registered in Hydra's ConfigStore and parsed once by the CLI.

The YAML files in ``configs/`` hold values only; the types, ranges and defaults live here (or, for a dataclass that
the library uses directly such as :class:`~vjepa_bench.planning.config.PlannerConfig`, in that dataclass). The CLI
composes a command's YAML onto its schema, turns it into the dataclass with :func:`parse`, and hands the typed
object to the command.
"""

from vjepa_bench.schema.agents import AGENT_SCHEMAS
from vjepa_bench.schema.collect import CollectConfig
from vjepa_bench.schema.env import CameraConfig, EnvConfig
from vjepa_bench.schema.eval import EvalConfig
from vjepa_bench.schema.parse import from_values, parse, register_schemas

__all__ = ["AGENT_SCHEMAS", "CameraConfig", "CollectConfig", "EnvConfig", "EvalConfig", "from_values", "parse", "register_schemas"]
