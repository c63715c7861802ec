"""Issue 25's goals over the generated `trickle` family (tests/sim/family_goals.py)."""

from tests.sim.family_goals import FamilyGoals


class TestTrickle(FamilyGoals):
    family = "trickle"
