"""`eval`: metrics (metrics.py), report files (report.py, plots.py), the task (run.py)."""
