"""``gamify curve show`` and ``gamify curve plot``: curve tables, days to reach, PNG charts."""

from __future__ import annotations

import sys

import pytest

from gamify.cli._curve import build_figure, resolve_curves

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

PROGRAM = """
name = "game"
timezone = "UTC"

[actions.play]
amount = "none"

[[rules]]
name = "play_xp"
action = "play"
currency = "xp"
fixed = 10

[levels]
curve = "linear"
params = { step = 100 }
max_level = 5
"""


def test_show_family_json_levels_and_days(gamify_cli):
    """Medium Slow by hand: level 2 needs floor(1.2x8 - 60 + 200 - 140) = 9 XP, level 3 57."""
    run = gamify_cli(
        "curve", "show", "--family", "medium_slow", "--max-level", "4", "--xp-per-day", "20",
        "--json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    (curve,) = run.json()["curves"]
    assert curve["family"] == "medium_slow"
    assert curve["max_level"] == 4
    # level 4: floor(1.2x64 - 15x16 + 400 - 140) = floor(96.8) = 96
    assert [row["cumulative_xp"] for row in curve["levels"]] == [0, 9, 57, 96]
    assert [row["xp_to_next"] for row in curve["levels"]] == [9, 48, 39, None]
    # days at 20 XP a day, rounded up: 0, ceil(9/20), ceil(57/20), ceil(96/20)
    assert [row["days_to_reach"] for row in curve["levels"]] == [0, 1, 3, 5]


def test_show_prints_a_table(gamify_cli):
    """The table has one row per level with XP to next, cumulative XP and days to reach."""
    run = gamify_cli(
        "curve", "show", "--family", "linear", "--param", "step=250", "--max-level", "3",
        "--xp-per-day", "100",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert "linear (step=250), max level 3" in run.stdout
    assert "days at 100 XP/day" in run.stdout
    rows = [line for line in run.stdout.splitlines() if line.startswith("│")]
    cells = [[c.strip() for c in row.strip("│").split("│")] for row in rows]
    assert cells == [["1", "250", "0", "0"], ["2", "250", "250", "3"], ["3", "-", "500", "5"]]


def test_show_program_file_curve(gamify_cli, write):
    """A program file's level curve is shown with its own maximum level."""
    run = gamify_cli("curve", "show", write("game.toml", PROGRAM), "--json")
    assert run.exit_code == 0, run.stderr
    (curve,) = run.json()["curves"]
    assert curve["label"].startswith("game: linear (step=100)")
    assert [row["cumulative_xp"] for row in curve["levels"]] == [0, 100, 200, 300, 400]


def test_inline_and_scoped_parameters(gamify_cli):
    """NAME:k=v and FAMILY.k=v give each of several families its own parameters."""
    run = gamify_cli(
        "curve", "show", "--family", "linear:step=10", "--family", "polynomial",
        "--param", "polynomial.a=2", "--param", "p=2", "--max-level", "3", "--json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    linear, poly = run.json()["curves"]
    assert [row["cumulative_xp"] for row in linear["levels"]] == [0, 10, 20]
    # polynomial a x n^p: 2 x 4 = 8 and 2 x 9 = 18 (level 1 pinned to 0)
    assert [row["cumulative_xp"] for row in poly["levels"]] == [0, 8, 18]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--family", "quadratic"], "unknown curve family 'quadratic'"),
        (["--family", "linear", "--param", "step"], "expected NAME=NUMBER"),
        (["--family", "linear", "--param", "step=ten"], "'ten' is not a number"),
        (["--family", "fast", "--param", "step=10"], "unknown parameter(s) 'step'"),
        (["--family", "polynomial", "--param", "a=1"], "missing parameter(s) 'p'"),
        (["--family", "linear", "--param", "fast.step=1"], "no --family 'fast'"),
        (["--family", "fast", "--family", "slow", "--param", "q=1"], "takes 'q'"),
        (["--family", "fast", "--max-level", "101"], "defined up to level 100"),
        (["--family", "fast", "--xp-per-day", "0"], "must be positive"),
        ([], "name a curve"),
    ],
)
def test_bad_curve_input_exits_2(gamify_cli, args, message):
    """Unknown families and malformed parameters are refused in one line with exit code 2."""
    run = gamify_cli("curve", "show", *args)
    assert run.exit_code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert message in lines[0]


def test_bad_input_with_json_prints_a_json_error(gamify_cli):
    """With --json the error is also on stdout as JSON."""
    run = gamify_cli("curve", "show", "--family", "quadratic", "--json")
    assert run.exit_code == 2
    assert "unknown curve family" in run.json()["error"]["message"]


def test_usage_error_is_one_line_exit_2(gamify_cli):
    """A usage error (a non-integer --max-level) is one line on stderr, exit code 2."""
    run = gamify_cli("curve", "show", "--family", "fast", "--max-level", "ten")
    assert run.exit_code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "--max-level" in lines[0] and "gamify curve show --help" in lines[0]


def test_program_without_levels_exits_2(gamify_cli, write):
    """A program with no levels section has no curve: the error names the key path."""
    text = PROGRAM[: PROGRAM.index("[levels]")]
    run = gamify_cli("curve", "show", write("nolevels.toml", text))
    assert run.exit_code == 2
    assert "nolevels.toml: levels: the program has no levels section" in run.stderr


def test_plot_writes_a_png(gamify_cli, tmp_path):
    """`curve plot --family medium_slow --max-level 50` writes a PNG file."""
    out = tmp_path / "c.png"
    run = gamify_cli(
        "curve", "plot", "--family", "medium_slow", "--max-level", "50", "--out", out, "--json"
    )
    assert run.exit_code == 0, run.stderr
    assert run.json() == {"out": str(out), "curves": ["medium_slow, max level 50"]}
    assert out.read_bytes().startswith(PNG_SIGNATURE)
    assert out.stat().st_size > 10_000


def test_figure_has_labels_title_and_one_line_per_curve(write):
    """The figure's axes are labelled, it has a title, and a legend entry per overlaid curve."""
    chosen = resolve_curves([write("game.toml", PROGRAM)], ["medium_slow", "fast"], [], max_level=5)
    figure = build_figure(chosen)
    (axes,) = figure.axes
    assert axes.get_xlabel() == "Level"
    assert axes.get_ylabel() == "Cumulative XP"
    assert axes.get_title() == "Level curves compared"
    legend = axes.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [c.label for c in chosen]
    assert len(axes.get_lines()) == 3
    xs, ys = axes.get_lines()[1].get_data()
    assert list(xs) == [1, 2, 3, 4, 5]
    assert list(ys) == [0, 9, 57, 96, 135]  # medium slow, by hand as above; level 5: 135.0


def test_single_curve_title_names_it():
    """One curve: the title names the curve."""
    figure = build_figure(resolve_curves([], ["fast"], [], max_level=10), title=None)
    assert figure.axes[0].get_title() == "Level curve: fast, max level 10"


def test_plot_without_matplotlib_says_what_to_install(gamify_cli, tmp_path, monkeypatch):
    """Without the plot extra, `curve plot` exits 2 naming `pip install 'gamify-sdk[plot]'`."""
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    out = tmp_path / "c.png"
    run = gamify_cli("curve", "plot", "--family", "fast", "--out", out)
    assert run.exit_code == 2
    assert "pip install 'gamify-sdk[plot]'" in run.stderr
    assert not out.exists()


def test_plot_to_unwritable_path_exits_2(gamify_cli, tmp_path):
    """An --out in a folder that does not exist is bad input."""
    run = gamify_cli("curve", "plot", "--family", "fast", "--out", tmp_path / "no" / "c.png")
    assert run.exit_code == 2
    assert "cannot write" in run.stderr
