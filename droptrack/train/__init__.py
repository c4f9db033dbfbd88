"""Full fine-tuning with the official OSTrack/DropTrack recipe (single process, DDP via torchrun)."""
