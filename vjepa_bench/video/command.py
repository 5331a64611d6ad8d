"""Entry points of ``vjepa-bench video-eval``, ``vjepa-bench make-sim-motion`` and ``vjepa-bench score-qa``: each
takes its parsed schema (``vjepa_bench.video.config``), runs and prints a one-line summary."""

from __future__ import annotations

from vjepa_bench.video.config import MakeSimMotionConfig, ScoreQAConfig, VideoEvalConfig
from vjepa_bench.video.evaluate import run_video_eval
from vjepa_bench.video.qa_score import run_score_qa
from vjepa_bench.video.sim_motion import make_sim_motion


def video_eval(cfg: VideoEvalConfig) -> None:
    results = run_video_eval(cfg)
    if "recall5" in results:
        r, best = results["recall5"], results["max_over_heads_on_eval"]
        score = (f"class-mean recall@5 ({results['ek100_mode']}): verb {r['verb']:.3f} noun {r['noun']:.3f} "
                 f"action {r['action']:.3f}")
        best_score = f"action {best['action_recall5']:.3f}"
    else:
        score = f"top-1 {results['top1']:.3f} top-5 {results['top5']:.3f}"
        best_score = f"{results['max_over_heads_on_eval']['top1']:.3f}"
    test = results.get("test_submission")
    test_file = "" if test is None else f"; test-split challenge file {test['file']} ({test['entries']} entries)"
    print(f"{results['benchmark']}: {score} (head selection: {results['head_selection']}; max over heads on eval: "
          f"{best_score}); skipped {results['skipped_broken']}{test_file}; {results['wall_s']} s")


def sim_motion(cfg: MakeSimMotionConfig) -> None:
    print(f"sim_motion written to {make_sim_motion(cfg.out_dir, cfg)}")


def score_qa(cfg: ScoreQAConfig) -> None:
    results = run_score_qa(cfg)
    overall, ids = results["overall"], results["id_check"]
    print(f"{results['benchmark']}: accuracy {overall['accuracy']:.4f} ({overall['correct']}/{overall['total']}); "
          f"unparsed {overall['unparsed']}{' (rule-only formats included)' if overall['rule_only'] else ''}; "
          f"ids missing {ids['missing']['count']}, extra {ids['extra']['count']}, "
          f"duplicate {ids['duplicate']['count']}; {results['results_file']}")
