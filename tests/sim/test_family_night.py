"""Issue 25's goals over the generated `night` family (tests/sim/family_goals.py)."""

from tests.sim.family_goals import NIGHT_IDLE_MINUTES, FamilyGoals, judged


class TestNight(FamilyGoals):
    family = "night"

    def test_a_quiet_night_idles_at_most_45_agent_minutes(self) -> None:
        for trace, result in judged(self.family):
            assert result.idle_agent_minutes <= NIGHT_IDLE_MINUTES, trace.name
