"""Hydra configs: one per command, with groups env/ agent/ planner/ model/ camera/ robot/."""
