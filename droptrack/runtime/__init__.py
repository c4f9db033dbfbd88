"""The tracking loop: sources, the tracker over a backend, per-stage timing and sinks."""
