"""Self-supervised pretraining: per-iteration schedules and the MSCL / MoCo model."""
