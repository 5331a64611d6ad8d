"""The typed config schema: one registry of agents matching one schema and one YAML each, every command's
defaults composing into its dataclass, and library defaults equal to the command line's."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from importlib.resources import files

import pytest
from hydra import compose, initialize_config_module

from vjepa_bench.agents import load_agents
from vjepa_bench.bench.models import bench_models
from vjepa_bench.bench.planner import bench_planner
from vjepa_bench.bench.sim import bench_sim
from vjepa_bench.cli import COMMANDS, check_config
from vjepa_bench.collection.collect import collect
from vjepa_bench.errors import UsageError
from vjepa_bench.schema import CollectConfig, command_schema, parse
from vjepa_bench.schema.agents import AGENT_SCHEMAS
from vjepa_bench.schema.bench import BenchModelsConfig, BenchPlannerConfig, BenchSimConfig
from vjepa_bench.schema.parse import COMMAND_SCHEMAS


def test_every_registered_agent_has_one_schema_and_one_config_file():
    yaml_names = {p.name.removesuffix(".yaml") for p in files("vjepa_bench.configs").joinpath("agent").iterdir()
                  if p.name.endswith(".yaml")}
    ours = {name for name, factory in load_agents().items() if factory.__module__.startswith("vjepa_bench.agents.")}
    assert ours == set(AGENT_SCHEMAS) == yaml_names  # (tests may register agents of their own)


@pytest.mark.parametrize("name", sorted(AGENT_SCHEMAS))
def test_each_agent_schema_lists_the_agents_own_settings(name):
    factory = load_agents()[name]
    accepted = set(inspect.signature(factory).parameters)
    kwargs = AGENT_SCHEMAS[name]().kwargs
    declared = {f.name for f in dataclasses.fields(kwargs)}
    assert declared <= accepted, declared - accepted
    for f in dataclasses.fields(kwargs):  # a plain default in the schema is the agent's own default
        default = inspect.signature(factory).parameters[f.name].default
        if f.default is not dataclasses.MISSING and isinstance(f.default, (str, int, float, bool)) \
                and not str(f.default).startswith("${"):
            assert f.default == default, (name, f.name)


@pytest.mark.parametrize("command", sorted({c.config for c in COMMANDS.values()}))
def test_every_command_config_composes(command):
    with initialize_config_module("vjepa_bench.configs", version_base=None):
        cfg = compose(command)
    try:
        typed = parse(cfg)
    except UsageError as err:  # only a required value may be missing (the training commands' stores) or, for
        # robot-check, the operator's e-stop confirmation, which no file may give
        assert (command in ("train_ac", "pretrain") and "stores" in str(err)) or (
            command == "robot_check" and "i_have_an_estop=true" in str(err)), err
        return
    if command in COMMAND_SCHEMAS:
        assert isinstance(typed, command_schema(command))


def test_collect_defaults_are_the_library_defaults():
    signature = inspect.signature(collect).parameters
    compared = [f.name for f in dataclasses.fields(CollectConfig) if f.default is not dataclasses.MISSING
                and f.name in signature and signature[f.name].default is not inspect.Parameter.empty]
    assert set(compared) >= {"seed", "policy", "shard_size", "progress", "max_steps"}
    for name in compared:
        assert signature[name].default == getattr(CollectConfig, name), name


@pytest.mark.parametrize("schema, function", [(BenchSimConfig, bench_sim), (BenchModelsConfig, bench_models),
                                              (BenchPlannerConfig, bench_planner)])
def test_bench_defaults_are_the_library_defaults(schema, function):
    signature = inspect.signature(function).parameters
    assert [f.name for f in dataclasses.fields(schema)] == list(signature)  # the schema is the keyword arguments
    for f in dataclasses.fields(schema):
        assert f.default == signature[f.name].default, f.name


@pytest.mark.parametrize("config, overrides, message", [
    ("bench_sim", ["steps=0"], "steps=0: must be an integer >= 1"),
    ("bench_sim", ["tasks=reach"], "tasks: Invalid value assigned: str is not a ListConfig, list or tuple."),
    ("bench_models", ["batch=x"], "batch: Value 'x' of type 'str' could not be converted to Integer"),
    ("bench_models", ["device=gpu"], "device='gpu' is not a device name; use auto, cpu, cuda or cuda:<i>"),
    ("bench_planner", ["threads=0"], "threads=0: must be an integer >= 1"),
    ("bench_planner", ["bogus=1"], "bogus is not a setting of BenchPlannerConfig; known: encoder, ac_predictor, "),
    ("leaderboard_validate", ["bogus=1"], "bogus is not a setting of ValidateConfig; known: files, lock"),
    ("leaderboard_serve", ["port=70000"], "port=70000: must be a TCP port in [1, 65535]"),
    ("leaderboard_verify", ["episodes=many"], "episodes: Value 'many' of type 'str' could not be converted to Integer"),
    ("leaderboard_admin", ["number=1.5"], "number: Value '1.5' of type 'float' could not be converted to Integer"),
    ("leaderboard_baselines", ["relock=maybe"], "relock: Value 'maybe' is not a valid bool"),
    ("robot_check", [], "robot-check moves the arm: hold the emergency stop, then pass i_have_an_estop=true"),
    ("robot_check", ["i_have_an_estop=true", "speed=0.5"], "robot-check: move_m must be in (0, 0.05] m and speed"),
    ("robot_check", ["i_have_an_estop=true", "frames=1"], "frames=1: must be an integer >= 2"),
    ("robot_check", ["i_have_an_estop=true", "bogus=1"], "bogus is not a setting of RobotCheckConfig; known: robot,"),
])
def test_bad_bench_leaderboard_and_robot_check_settings_are_one_line_naming_the_key(config, overrides, message):
    with pytest.raises(UsageError) as err:
        check_config(config, overrides)
    assert str(err.value).startswith(message) and "\n" not in str(err.value), str(err.value)


@pytest.mark.parametrize("config, overrides, message", [
    ("eval", ["seed=-1"], "seed=-1: must be an integer >= 0"),
    ("eval", ["agent=random", "agent.kwargs.seed=-1"], "agent.kwargs.seed=-1: must be an integer >= 0"),
    ("eval", ["agent=vjepa_ac", "planner.seed=-2"], "planner.seed=-2: must be an integer >= 0"),
    ("collect", ["seed=-1"], "seed=-1: must be an integer >= 0"),
    ("sweep_camera", ["axis_seed=-3"], "axis_seed=-3: must be an integer >= 0"),
])
def test_negative_seeds_are_one_line_naming_the_key(config, overrides, message):
    with pytest.raises(UsageError) as err:  # the episodes would be reset with them: gymnasium refuses them deep inside
        check_config(config, overrides)
    assert str(err.value).startswith(message) and "\n" not in str(err.value), str(err.value)


@pytest.mark.parametrize("config, overrides, field, value", [
    ("bench_planner", [], "planners", ["paper", "small", "fast"]),  # the YAML's choice
    ("bench_planner", ["planners=null", "device=cpu"], "device", "cpu"),
    ("leaderboard_validate", ["files=[a.json]"], "files", ["a.json"]),
    ("leaderboard_submit", ["name=42"], "name", "42"),
    ("robot_check", ["i_have_an_estop=true", "camera_device=replay"], "camera_device", {"name": "replay"}),
])
def test_bench_leaderboard_and_robot_check_configs_parse_to_their_schema(config, overrides, field, value):
    with initialize_config_module("vjepa_bench.configs", version_base=None):
        typed = parse(compose(config, overrides=overrides))
    assert isinstance(typed, command_schema(config))
    got = getattr(typed, field)
    assert (got["name"] == value["name"]) if isinstance(value, dict) else (list(got) if isinstance(value, list)
                                                                             else got) == value


_TORCH_CHECK = """
import sys
{code}
print("torch" in sys.modules)
"""


@pytest.mark.parametrize("code", [
    "import vjepa_bench.cli, vjepa_bench.schema",
    "from vjepa_bench.cli import main\nmain([])",  # the usage text
    "from vjepa_bench.cli import main\nmain(['leaderboard', 'validate'])",
])
def test_the_cli_and_the_schemas_load_no_torch_for_commands_that_need_none(code):
    out = subprocess.run([sys.executable, "-c", _TORCH_CHECK.format(code=code)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.splitlines()[-1] == "False", out.stdout


def test_the_torch_check_sees_torch_where_a_command_loads_it():  # the check above can fail
    code = "from vjepa_bench.schema import register_schemas\nregister_schemas('eval')"
    out = subprocess.run([sys.executable, "-c", _TORCH_CHECK.format(code=code)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.splitlines()[-1] == "True", out.stdout
