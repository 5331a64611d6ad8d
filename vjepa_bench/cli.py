"""``vjepa-bench <command> [hydra overrides]``: each command is a Hydra config in ``configs/``."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

import hydra
from omegaconf import DictConfig

from vjepa_bench.errors import UsageError


@dataclass(frozen=True)
class Command:
    config: str
    run: str  # "module:function" taking the composed DictConfig
    help: str


COMMANDS: dict[str, Command] = {
    "eval": Command("eval", "vjepa_bench.evaluation.command:main", "evaluate an agent on a task"),
    "collect": Command("collect", "vjepa_bench.data.command:main", "record sim trajectories into HDF5 shards"),
    "pretrain": Command("pretrain", "vjepa_bench.training.command:pretrain", "V-JEPA pretraining of a small encoder"),
    "train-ac": Command("train_ac", "vjepa_bench.training.command:train_ac", "post-train the AC predictor"),
    "bench sim": Command("bench_sim", "vjepa_bench.bench.commands:sim", "simulation speed vs robosuite"),
    "bench models": Command("bench_models", "vjepa_bench.bench.commands:models", "encoder / AC predictor speed"),
    "bench planner": Command("bench_planner", "vjepa_bench.bench.commands:planner", "time per planned action"),
    "video-eval": Command("video_eval", "vjepa_bench.video.command:video_eval", "frozen encoder + attentive probe on a video benchmark"),
    "make-sim-motion": Command("make_sim_motion", "vjepa_bench.video.command:sim_motion", "render the sim_motion video benchmark"),
    **{f"leaderboard {verb}": Command(f"leaderboard_{verb}", f"vjepa_bench.leaderboard.command:{verb}", help_)
       for verb, help_ in (("lock", "rewrite the track lock"), ("submit", "make an entry from eval runs"),
                           ("validate", "check entries"), ("verify", "replay an entry's episodes"),
                           ("build", "write the board"), ("serve", "submission server"),
                           ("admin", "server admin: verify/reject/rebuild"),
                           ("baselines", "relock, run and submit the baselines"))},
    "sweep-camera": Command("sweep_camera", "vjepa_bench.evaluation.sweep_command:main", "camera-angle sensitivity"),
    "robot-check": Command("robot_check", "vjepa_bench.envs.real.check:main", "pre-flight of a real arm and camera"),
}

USAGE = "usage: vjepa-bench <command> [key=value ...] [--multirun]\n\ncommands:\n" + "\n".join(
    f"  {name:<14} {cmd.help}" for name, cmd in COMMANDS.items()
)


def _resolve(target: str) -> Callable[[DictConfig], object]:
    module, _, function = target.partition(":")
    return getattr(__import__(module, fromlist=[function]), function)


def _split_command(argv: list[str]) -> tuple[Command, list[str]]:
    for words in (2, 1):
        name = " ".join(argv[:words])
        if len(argv) >= words and name in COMMANDS:
            return COMMANDS[name], argv[words:]
    given = " ".join(argv[:2]) if argv else ""
    raise UsageError(f"unknown command {given!r}\n\n{USAGE}")


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
    run = _resolve(command.run)

    def task(cfg: DictConfig) -> None:
        try:
            run(cfg)
        except UsageError as err:
            sys.exit(f"vjepa-bench {' '.join(argv[:1])}: {err}")

    sys.argv = [f"vjepa-bench {command.config}", *overrides]
    hydra.main(version_base=None, config_path="pkg://vjepa_bench.configs", config_name=command.config)(task)()


if __name__ == "__main__":
    main()
