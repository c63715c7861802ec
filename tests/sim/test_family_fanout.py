"""Issue 25's goals over the generated `fanout` family (tests/sim/family_goals.py)."""

from tests.sim.family_goals import FamilyGoals


class TestFanout(FamilyGoals):
    family = "fanout"
