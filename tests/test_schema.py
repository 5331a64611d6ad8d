"""The typed config schema: one registry of agents matching one schema and one YAML each, every command's
defaults composing into its dataclass, and library defaults equal to the command line's."""

from __future__ import annotations

import dataclasses
import inspect
from importlib.resources import files

import pytest
from hydra import compose, initialize_config_module

from vjepa_bench.agents import load_agents
from vjepa_bench.cli import COMMANDS
from vjepa_bench.collection.collect import collect
from vjepa_bench.errors import UsageError
from vjepa_bench.schema import AGENT_SCHEMAS, CollectConfig, parse
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
    except UsageError as err:  # only a required value may be missing (the training commands' stores)
        assert command in ("train_ac", "pretrain") and "stores" in str(err), err
        return
    if command in COMMAND_SCHEMAS:
        assert isinstance(typed, COMMAND_SCHEMAS[command])


def test_collect_defaults_are_the_library_defaults():
    signature = inspect.signature(collect).parameters
    compared = [f.name for f in dataclasses.fields(CollectConfig) if f.default is not dataclasses.MISSING
                and f.name in signature and signature[f.name].default is not inspect.Parameter.empty]
    assert set(compared) >= {"seed", "policy", "shard_size", "progress", "max_steps"}
    for name in compared:
        assert signature[name].default == getattr(CollectConfig, name), name
