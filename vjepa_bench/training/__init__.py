"""Training: AC predictor post-training (teacher forcing + rollout loss, DDP) and small-scale V-JEPA pretraining."""
