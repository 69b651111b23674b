"""Expected-recovery trajectories fitted to a clinic's own scores (pure NumPy and SciPy).

- ``lmm``: the growth model of score on log(session) by intake severity, fitted by REML.
- ``bands``: the expected band of a new client from a fit, and the off-track rule.
- ``simulate``: synthetic PHQ-9-like and GAD-7-like episodes with known parameters.
- ``validity``: the alarm-quality study on held-out simulated cohorts.
"""
