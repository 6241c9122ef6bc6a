"""A CSV's columns are counted from its header alone, by fields (quotes respected), before parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops.trainer.errors import SourceError
from modelops.trainer.tables import csv_columns


@pytest.mark.parametrize(
    ("text", "columns"),
    [
        ("a,b,c\n1,2,3\n", 3),
        ("a,b\r\n1,2\r\n", 2),
        ("a,b\r1,2\r3,4\r", 2),  # lines ended by \r alone
        ('"x,y",b\n1,2\n', 2),
        ('"a\nb",c,d\n1,2,3\n', 3),  # a newline inside a quoted name
        ('"say ""hi, there""",b\n', 2),
        ("lonely", 1),
    ],
)
def test_the_header_fields_are_counted(tmp_path: Path, text: str, columns: int) -> None:
    (tmp_path / "f.csv").write_text(text)

    assert csv_columns(tmp_path / "f.csv", "f.csv", limit=100) == columns


def test_a_header_past_the_limit_is_refused_without_reading_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(300_000)) + "\n")

    with pytest.raises(SourceError, match=r"wide.csv has more than 1000 columns \(MODELOPS_SOURCE_MAX_COLUMNS\)"):
        csv_columns(path, "wide.csv", limit=1000)
