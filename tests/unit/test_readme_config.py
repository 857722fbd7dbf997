"""The README's configuration table names every environment variable the settings read."""
import re

from shared import settings
from tests.support import REPO


def documented_names(text: str) -> set[str]:
    names = set()
    for row in (line for line in text.splitlines() if line.startswith("| `")):
        cell = row.split("|")[1]
        names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", cell))
    return names


def test_every_setting_is_in_the_readme_table():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    documented = documented_names(text)
    groups = settings.all_groups()
    assert len(groups) >= 8
    missing = sorted({f for g in groups for f in g.model_fields} - documented)
    assert missing == [], f"not in README's configuration table: {missing}"
