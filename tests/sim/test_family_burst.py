"""Issue 25's goals over the generated `burst` family (tests/sim/family_goals.py)."""

from tests.sim.family_goals import FamilyGoals


class TestBurst(FamilyGoals):
    family = "burst"
