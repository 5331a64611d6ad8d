"""``vjepa-bench <command> [hydra overrides]``: each command is a Hydra config in ``configs/``."""

from __future__ import annotations

import errno
import importlib.util
import sys
from dataclasses import dataclass
from typing import Callable

import hydra
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from vjepa_bench.errors import UsageError
from vjepa_bench.schema import parse, register_schemas
from vjepa_bench.schema.parse import describe

CONFIG_MODULE = "vjepa_bench.configs"


def _config_dir() -> str:
    """The folder of ``CONFIG_MODULE``, found without importing it: its import registers every schema (for
    scripts and tests), while a command registers only its own."""
    spec = importlib.util.find_spec(CONFIG_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{CONFIG_MODULE} is missing from the installation")
    return next(iter(spec.submodule_search_locations))


CONFIG_DIR = _config_dir()


@dataclass(frozen=True)
class Command:
    config: str
    run: str  # "module:function" taking the parsed config (its schema dataclass, else the DictConfig)
    help: str


COMMANDS: dict[str, Command] = {
    "eval": Command("eval", "vjepa_bench.evaluation.command:main", "evaluate an agent on a task"),
    "collect": Command("collect", "vjepa_bench.collection.command:main", "record sim trajectories into HDF5 shards"),
    "pretrain": Command("pretrain", "vjepa_bench.training.command:pretrain", "V-JEPA pretraining of a small encoder"),
    "train-ac": Command("train_ac", "vjepa_bench.training.command:train_ac", "post-train the AC predictor"),
    "bench sim": Command("bench_sim", "vjepa_bench.bench.commands:sim", "simulation speed vs robosuite"),
    "bench models": Command("bench_models", "vjepa_bench.bench.commands:models", "encoder / AC predictor speed"),
    "bench planner": Command("bench_planner", "vjepa_bench.bench.commands:planner", "time per planned action"),
    "video-eval": Command("video_eval", "vjepa_bench.video.command:video_eval", "frozen encoder + attentive probe on a video benchmark"),
    "make-sim-motion": Command("make_sim_motion", "vjepa_bench.video.command:sim_motion", "render the sim_motion video benchmark"),
    "score-qa": Command("score_qa", "vjepa_bench.video.command:score_qa", "multiple-choice video-QA accuracy of prediction files"),
    **{f"leaderboard {verb}": Command(f"leaderboard_{verb}", f"vjepa_bench.leaderboard.{module}:{verb}", help_)
       for verb, module, help_ in (
           ("lock", "command", "rewrite the track lock"), ("submit", "command", "make an entry from eval runs"),
           ("validate", "command", "check entries"), ("verify", "replay", "replay an entry's episodes"),
           ("build", "command", "write the board"), ("serve", "command", "submission server"),
           ("admin", "replay", "server admin: verify/reject/rebuild"),
           ("baselines", "replay", "relock, run and submit the baselines"))},
    "sweep-camera": Command("sweep_camera", "vjepa_bench.evaluation.sweep_command:main", "camera-angle sensitivity"),
    "robot-check": Command("robot_check", "vjepa_bench.envs.real.check:main", "pre-flight of a real arm and camera"),
}

OUT_OF_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}
"""Write failures a user fixes outside vjepa-bench (disk full, quota, file size limit, read-only file system)."""

USAGE = "usage: vjepa-bench <command> [key=value ...] [--multirun]\n\ncommands:\n" + "\n".join(
    f"  {name:<14} {cmd.help}" for name, cmd in COMMANDS.items()
)


def _resolve(target: str) -> Callable[..., object]:
    module, _, function = target.partition(":")
    return getattr(__import__(module, fromlist=[function]), function)


def _split_command(argv: list[str]) -> tuple[Command, list[str]]:
    for words in (2, 1):
        name = " ".join(argv[:words])
        if len(argv) >= words and name in COMMANDS:
            return COMMANDS[name], argv[words:]
    given = " ".join(argv[:2]) if argv else ""
    raise UsageError(f"unknown command {given!r}\n\n{USAGE}")


def _variants(overrides: list[str]) -> list[list[str]]:
    """Single-run override lists covering every value of every sweep (others at their first value)."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    first = [f"{o.input_line.split('=', 1)[0]}={next(iter(o.sweep_string_iterator()))}" if o.is_sweep_override()
             else o.input_line for o in parsed]
    variants = [first]
    for i, o in enumerate(parsed):
        if o.is_sweep_override():
            key = o.input_line.split("=", 1)[0]
            variants += [[*first[:i], f"{key}={value}", *first[i + 1:]] for value in list(o.sweep_string_iterator())[1:]]
    return variants


def check_config(config: str, overrides: list[str]) -> None:
    """Compose ``config`` with the user's overrides and parse it, so a bad key, type or range fails in one line
    before Hydra starts a run (Hydra's own messages span several lines)."""
    user = [o for o in overrides if not o.startswith("-") and not o.lstrip("+~").startswith(("hydra.", "hydra/"))]
    try:
        variants = _variants(user)
    except HydraException as err:
        raise UsageError(str(err).splitlines()[0]) from None
    register_schemas(config)
    with initialize_config_dir(CONFIG_DIR, version_base=None):
        for variant in variants:
            try:
                cfg = compose(config, overrides=variant)
            except (HydraException, OmegaConfBaseException) as err:
                raise UsageError(describe(err)) from None
            parse(cfg)


def out_of_room(err: OSError) -> str:
    """One line for a write that the file system refused; every command writes history atomically or appends
    fsync-ed records, so what finished is kept and the same command resumes."""
    where = f"{err.filename}: " if err.filename else ""
    return (f"{where}{err.strerror} while writing; free disk space or choose another output folder, then run the same "
            "command again (finished work is kept and resumes)")


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return
    try:
        command, overrides = _split_command(argv)
    except UsageError as err:
        sys.exit(f"vjepa-bench: {err}")
    try:
        check_config(command.config, overrides)
    except UsageError as err:
        sys.exit(f"vjepa-bench {' '.join(argv[:1])}: {err}")
    run = _resolve(command.run)

    def task(cfg: DictConfig) -> None:
        try:
            run(parse(cfg))
        except UsageError as err:
            sys.exit(f"vjepa-bench {' '.join(argv[:1])}: {err}")
        except OSError as err:
            if err.errno not in OUT_OF_ROOM:
                raise
            sys.exit(f"vjepa-bench {' '.join(argv[:1])}: {out_of_room(err)}")

    sys.argv = [f"vjepa-bench {command.config}", *overrides]
    hydra.main(version_base=None, config_path=CONFIG_DIR, config_name=command.config)(task)()


if __name__ == "__main__":
    main()
