"""The repository stands alone: no tracked file reads anything beside the checkout."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUTSIDE = re.compile(r"""\.\./shared|PAYTRACK_SHARED_DIR|parents?\b[^\n]*/\s*["']shared["']""")
CODE = {".py", ".sh", ".ini", ".cfg", ".toml", ".json", ".js", ""}


def tracked_code() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.split()
    return [REPO / n for n in names if Path(n).suffix in CODE and (REPO / n).is_file()]


def test_no_code_reads_a_folder_beside_the_checkout():
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for path in tracked_code()
        if path.name != Path(__file__).name
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_gateway_vectors_are_committed():
    vectors = REPO / "tests" / "fixtures" / "vectors"
    for gateway in ("ali", "wx", "epay", "stripe"):
        assert (vectors / f"{gateway}_vector.json").is_file()
