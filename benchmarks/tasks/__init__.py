"""The tasks of ``benchmarks/run.py``: each builds the same model in chainrule, PyTorch and
(where given) hand-written NumPy, on the same synthetic data and initial weights."""
