"""droptrack: DropTrack / OSTrack from fine-tuning to verified deployment."""

__version__ = "0.1.0"
