"""Training on accelerate: the shared loop (run folder, checkpoints, logs, samples) and the two stages."""
