"""Datasets: `Sequence`, readers of the official benchmark layouts, and the synthetic real-photo benchmark."""

from droptrack.data.registry import DATASETS, get_sequences
from droptrack.data.labels import load_boxes
from droptrack.data.sequence import Sequence
from droptrack.data.synth import ensure_synth, generate_synth

__all__ = ["DATASETS", "Sequence", "ensure_synth", "generate_synth", "get_sequences", "load_boxes"]
