from tests.stats import infolijn_2024
from tests.stats.helpers import FIXTURE_2024


def test_the_2024_fixture_is_what_its_generator_writes() -> None:
    assert FIXTURE_2024.read_text(encoding="utf-8") == infolijn_2024.render()


def test_the_generator_spreads_totals_exactly() -> None:
    assert sum(infolijn_2024.spread(819, (100, 95, 90))) == 819
    assert infolijn_2024.spread(12, (1,) * 12) == [1] * 12
