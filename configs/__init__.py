"""Hydra configs: one per command (eval, collect, pretrain, train_ac, bench_*), groups env/ agent/ planner/ camera/."""
