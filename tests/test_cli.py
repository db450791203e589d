"""The console script: fast start-up, the default build, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli


def test_help_imports_no_heavy_library():
    probe = (
        "import sys\n"
        "from r2rec_bench.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'datasets', 'pandas', 'pyarrow', 'numpy') "
        "if m in sys.modules]\n"
        "print('heavy=' + ','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.strip().splitlines()[-1] == "heavy="


def test_build_imports_no_torch(ml100k_raw, tmp_path):
    probe = (
        "import sys\n"
        "from r2rec_bench.cli import main\n"
        f"main(['build', '--raw-dir', {str(ml100k_raw)!r}, '--out', {str(tmp_path / 'o')!r}, "
        "'--quiet'])\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False False"


def test_default_build_through_the_console_script(ml100k_raw, tmp_path):
    result = run_cli("build", "--out", str(tmp_path / "ds"), "--json", "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["dataset"] == "ml-100k-iot"
    assert report["statistics"]["users"] == 943
    assert (tmp_path / "ds" / "eval" / "test-00000-of-00001.parquet").is_file()


def _write(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.write_text(text, encoding=encoding)


U_ITEM = "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"


def _u_data(rows) -> str:
    return "".join("\t".join(map(str, row)) + "\n" for row in rows)


BAD_INPUTS = {
    "missing file": ({}, "holds neither u.data"),
    "wrong separator": (
        {"u.data": "196,242,3,881250949\n186,302,3,891717742\n", "u.item": U_ITEM},
        "u.data:1: found 1 tab-separated field(s), expected 4",
    ),
    "missing column": (
        {
            "ml-100k.inter": "user_id:token\titem_id:token\trating:float\n1\t1\t5\n",
            "ml-100k.item": "item_id:token\tmovie_title:token_seq\trelease_year:token\t"
            "class:token_seq\n1\tToy Story\t1995\tAnimation\n",
        },
        "ml-100k.inter:1: header lacks column(s) timestamp",
    ),
    "non-numeric timestamp": (
        {"u.data": _u_data([(1, 1, 5, 881250949), (2, 1, 4, "yesterday")]), "u.item": U_ITEM},
        "u.data:2: field 'timestamp' is 'yesterday', not a whole number",
    ),
    "empty log": ({"u.data": "", "u.item": U_ITEM}, "u.data: the file is empty"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_raw_input_is_one_line_exit_2_and_no_output(case, tmp_path):
    files, expected = BAD_INPUTS[case]
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, text in files.items():
        _write(raw / name, text, "latin-1" if name.startswith("u.") else "utf-8")
    out = tmp_path / "out" / "dataset"
    result = run_cli("build", "--raw-dir", str(raw), "--out", str(out), "--quiet")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("r2rec-bench: error: ") and expected in lines[0], lines[0]
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_everything_removed_by_kcore_is_a_clear_error(ml100k_raw, tmp_path):
    builder = Path(__file__).resolve().parents[1] / "builders" / "ml-100k-iot.toml"
    strict = tmp_path / "strict.toml"
    strict.write_text(builder.read_text().replace("user_core = 5", "user_core = 100000"))
    out = tmp_path / "strict-out"
    result = run_cli("build", str(strict), "--raw-dir", str(ml100k_raw), "--out", str(out),
                     "--quiet")  # fmt: skip
    assert result.returncode == 2
    assert "no interaction is left after filtering" in result.stderr
    assert "lower user_core/item_core" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("build", "ml-7b-iot"), "unknown dataset builder 'ml-7b-iot'; choose one of: "),
        (("data", "fetch", "netflix"), "unknown dataset 'netflix' for `data fetch`"),
        (("data", "fetch", "ml-100k", "--source", "kaggle"), "ml-100k has no source 'kaggle'"),
    ],
)
def test_unknown_names_are_one_line_errors(args, expected, tmp_path):
    result = run_cli(*args, "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_fetch_verifies_the_cached_files(ml100k_raw):
    result = run_cli("data", "fetch", "ml-100k", "--json")
    assert result.returncode == 0, result.stderr
    assert sorted(json.loads(result.stdout)["files"]) == [
        "ml-100k.inter", "ml-100k.item", "ml-100k.user"
    ]  # fmt: skip


def test_an_os_error_anywhere_is_one_line_naming_the_path(tmp_path, monkeypatch, capsys):
    """Disk full, a permission denied: whatever a command was doing, one line and exit 2."""
    import errno

    from r2rec_bench import cli

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.parquet"))

    parser = cli.build_parser()
    args = parser.parse_args(["data", "info", str(tmp_path)])
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv=None: args)
    args.handler = full
    assert cli.main([]) == 2
    assert capsys.readouterr().err == (
        f"r2rec-bench: error: {tmp_path / 'x.parquet'}: No space left on device; check the "
        "path, its permissions and the free disk space\n"
    )
