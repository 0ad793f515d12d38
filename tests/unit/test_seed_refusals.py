"""A seed the store cannot take is refused with a message, never a traceback, and nothing of it
is loaded (the whole file is one transaction)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecslite.cli.main import main


def _seed(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_conflicting_seed_is_refused_and_loads_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    first = _seed(tmp_path, "a.yaml", "domains: [{id: d1, name: acme}]\n")
    assert main(["seed", "--data-dir", data, first]) == 0
    # A new user in a new domain whose name is already taken: neither may be kept.
    clash = _seed(
        tmp_path,
        "b.yaml",
        "domains: [{id: d3, name: fresh}, {id: d2, name: acme}]\n"
        "users: [{id: u1, name: bob, domain_id: d3}]\n",
    )
    assert main(["seed", "--data-dir", data, clash]) == 2
    err = capsys.readouterr().err
    assert "domains record (id=d2) conflicts" in err and "Traceback" not in err
    # Without the clash the same records load: nothing of the refused file had been kept.
    fixed = _seed(
        tmp_path,
        "c.yaml",
        "domains: [{id: d3, name: fresh}]\nusers: [{id: u1, name: bob, domain_id: d3}]\n",
    )
    assert main(["seed", "--data-dir", data, fixed]) == 0
    assert "added 1 domains, 1 users" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("domains: [{id: 1}]\n", "is not a valid seed"),
        ("domains: [\n", "is not valid YAML"),
    ],
)
def test_a_malformed_seed_is_refused_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, says: str
) -> None:
    path = _seed(tmp_path, "bad.yaml", text)
    assert main(["seed", "--data-dir", str(tmp_path / "data"), path]) == 2
    assert says in capsys.readouterr().err
