"""The IT volunteer configures helpline from the README alone."""

import re

from bot.config import PROJECT_HOME, Settings


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (PROJECT_HOME / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"HELPLINE_([A-Z_]+)", readme))
    missing = [name for name in Settings.model_fields if name.upper() not in documented]
    assert missing == [], f"settings missing from the README's table: {missing}"
