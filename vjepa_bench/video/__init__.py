"""Video understanding: frozen-encoder evaluation on the official annotation files of the benchmarks V-JEPA 2
reports, with the official metric definitions (see ``docs/video.md``).

Modules: ``annotations`` (one reader per official format), ``decode`` (PyAV), ``clips`` (clip sampling and the
eval transforms), ``metrics`` (top-k, EK100 class-mean recall@5, the challenge JSON).
"""
