"""Test-wide settings.

Hypothesis: no per-example deadline (the machines are small and shared), and under CI
(``CI`` set in the environment) derandomized, so that a run is reproducible.
"""
import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
