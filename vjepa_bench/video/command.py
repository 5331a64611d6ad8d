"""Hydra entry points: ``vjepa-bench video-eval``, ``vjepa-bench make-sim-motion`` and ``vjepa-bench score-qa``."""

from __future__ import annotations

from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from vjepa_bench.errors import UsageError
from vjepa_bench.video.evaluate import VideoEvalConfig, run_video_eval
from vjepa_bench.video.qa_score import ScoreQAConfig, run_score_qa
from vjepa_bench.video.sim_motion import SimMotionSpec, make_sim_motion

_C = TypeVar("_C")


def parse(schema: type[_C], cfg: DictConfig | dict[str, Any]) -> _C:
    """A composed config as the frozen dataclass ``schema``; unknown keys and wrong types are UsageErrors."""
    data = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    data = {k: v for k, v in data.items() if k != "hydra"}
    try:
        base = OmegaConf.structured(schema)
        for key in [k for k in base if OmegaConf.is_config(base[k])]:
            OmegaConf.set_readonly(base[key], False)  # frozen dataclasses give read-only nodes
        OmegaConf.set_readonly(base, False)
        return OmegaConf.to_object(OmegaConf.merge(base, data))  # type: ignore[return-value]
    except OmegaConfBaseException as err:
        raise UsageError(f"bad config: {err}") from None


def video_eval(cfg: DictConfig) -> None:
    results = run_video_eval(parse(VideoEvalConfig, cfg))
    if "recall5" in results:
        r, best = results["recall5"], results["max_over_heads_on_eval"]
        score = (f"class-mean recall@5 ({results['ek100_mode']}): verb {r['verb']:.3f} noun {r['noun']:.3f} "
                 f"action {r['action']:.3f}")
        best_score = f"action {best['action_recall5']:.3f}"
    else:
        score = f"top-1 {results['top1']:.3f} top-5 {results['top5']:.3f}"
        best_score = f"{results['max_over_heads_on_eval']['top1']:.3f}"
    print(f"{results['benchmark']}: {score} (head selection: {results['head_selection']}; max over heads on eval: "
          f"{best_score}); skipped {results['skipped_broken']}; {results['wall_s']} s")


def sim_motion(cfg: DictConfig) -> None:
    data = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(data, dict)
    out_dir = data.pop("out_dir", None)
    if not out_dir:
        raise UsageError("out_dir is required, e.g. out_dir=data/sim_motion")
    print(f"sim_motion written to {make_sim_motion(out_dir, parse(SimMotionSpec, data))}")


def score_qa(cfg: DictConfig) -> None:
    results = run_score_qa(parse(ScoreQAConfig, cfg))
    overall, ids = results["overall"], results["id_check"]
    print(f"{results['benchmark']}: accuracy {overall['accuracy']:.4f} ({overall['correct']}/{overall['total']}); "
          f"unparsed {overall['unparsed']}{' (rule-only formats included)' if overall['rule_only'] else ''}; "
          f"ids missing {ids['missing']['count']}, extra {ids['extra']['count']}, "
          f"duplicate {ids['duplicate']['count']}; {results['results_file']}")
