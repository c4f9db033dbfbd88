"""Evaluation: benchmark metrics (metrics.py), result files (results.py), reports and plots (report.py)."""
