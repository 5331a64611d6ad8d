"""Video understanding: frozen-encoder evaluation on the official annotation files of the benchmarks V-JEPA 2
reports, with the official metric definitions (see ``docs/video.md``).

Modules: ``annotations`` (one reader per official format), ``decode`` (PyAV), ``clips`` (clip sampling and the
eval transforms), ``metrics`` (top-k, EK100 class-mean recall@5, the challenge JSON); ``qa_annotations``,
``qa_parse``, ``qa_predictions`` and ``qa_score`` are ``vjepa-bench score-qa`` (multiple-choice video QA).
"""
