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


@pytest.mark.parametrize("title", ["cost $5 vs $10", r"a $\bad$ name"])
def test_dollar_signs_in_titles_are_drawn_as_they_are(title: str) -> None:
    """Matplotlib reads ``$...$`` as math: a title is escaped, drawn, and reads back as given."""
    figure = build_figure(resolve_curves([], ["fast"], [], max_level=10), title=title)
    figure.canvas.draw()  # would raise on r"$\bad$" read as math
    shown = figure.axes[0].title
    assert shown.get_text().replace(r"\$", "$") == title
    assert "$" not in shown.get_text().replace(r"\$", "")


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


# -- the table family ---------------------------------------------------------------------


def _rows(stdout):
    rows = [line for line in stdout.splitlines() if line.startswith("│")]
    return [[c.strip() for c in row.strip("│").split("│")] for row in rows]


def test_show_table_family_with_param(gamify_cli):
    """`-f table -p thresholds=0,100,250,450`: one level per threshold, XP to next between them."""
    run = gamify_cli("curve", "show", "-f", "table", "-p", "thresholds=0,100,250,450")
    assert run.exit_code == 0, run.stderr
    assert "table (thresholds=0,100,250,450), max level 4" in run.stdout
    assert _rows(run.stdout) == [
        ["1", "100", "0"],
        ["2", "150", "100"],
        ["3", "200", "250"],
        ["4", "-", "450"],
    ]


def test_show_table_family_inline_json(gamify_cli):
    """`-f table:thresholds=...` gives the same curve; the JSON lists the thresholds."""
    run = gamify_cli(
        "curve", "show", "-f", "table:thresholds=0, 100, 250, 450", "--xp-per-day", "100",
        "--json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    (curve,) = run.json()["curves"]
    assert curve["family"] == "table"
    assert curve["label"] == "table (thresholds=0,100,250,450), max level 4"
    assert curve["source"] is None
    assert curve["params"] == {}
    assert curve["thresholds"] == [0, 100, 250, 450]
    assert curve["max_level"] == 4
    assert [row["level"] for row in curve["levels"]] == [1, 2, 3, 4]
    assert [row["cumulative_xp"] for row in curve["levels"]] == [0, 100, 250, 450]
    assert [row["xp_to_next"] for row in curve["levels"]] == [100, 150, 200, None]
    assert [row["days_to_reach"] for row in curve["levels"]] == [0, 1, 3, 5]


def test_table_overlaid_with_other_families(gamify_cli):
    """A table next to formula families: inline, scoped `table.thresholds=` and a --max-level
    equal to the number of thresholds all work; formula families get no thresholds."""
    run = gamify_cli(
        "curve", "show", "-f", "table:thresholds=0,10,30", "-f", "linear:step=10",
        "--max-level", "3", "--json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    table, linear = run.json()["curves"]
    assert [row["cumulative_xp"] for row in table["levels"]] == [0, 10, 30]
    assert [row["cumulative_xp"] for row in linear["levels"]] == [0, 10, 20]
    assert linear["thresholds"] is None

    run = gamify_cli(
        "curve", "show", "-f", "table", "-f", "fast", "-p", "table.thresholds=0,5,20",
        "--json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    table, fast = run.json()["curves"]
    assert table["max_level"] == 3 and fast["max_level"] == 100
    assert [row["cumulative_xp"] for row in table["levels"]] == [0, 5, 20]


def test_table_in_a_program_file_is_shown(gamify_cli, write):
    """A program file's table curve: its thresholds in the label and the JSON."""
    text = PROGRAM.replace(
        'curve = "linear"\nparams = { step = 100 }\nmax_level = 5',
        'curve = "table"\nthresholds = [0, 50, 120]',
    )
    run = gamify_cli("curve", "show", write("game.toml", text), "--json")
    assert run.exit_code == 0, run.stderr
    (curve,) = run.json()["curves"]
    assert curve["label"] == "game: table (thresholds=0,50,120), max level 3"
    assert curve["thresholds"] == [0, 50, 120]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", "table"], "needs thresholds, e.g. -p thresholds=0,100,250"),
        (["-f", "table", "-p", "thresholds="], "needs the cumulative XP of each level"),
        (["-f", "table:thresholds="], "needs the cumulative XP of each level"),
        (["-f", "table", "-p", "thresholds=0,,10"], "an empty threshold"),
        (["-f", "table", "-p", "thresholds=0,ten,20"], "'ten' is not a number"),
        (["-f", "table:thresholds=0,ten,20"], "'ten' is not a number"),
        (["-f", "table", "-p", "thresholds=0,2.5"], "'2.5' is not a whole number"),
        (["-f", "table", "-p", "thresholds=0 10 20"], "separate thresholds with commas"),
        (["-f", "table", "-p", "thresholds=0,100,50"], "not strictly increasing at level 3"),
        (["-f", "table", "-p", "thresholds=0,100,100"], "not strictly increasing at level 3"),
        (["-f", "table:thresholds=5,10"], "must start at 0 XP for level 1, not 5"),
        (["-f", "table:thresholds=0"], "at least 2 thresholds"),
        (["-f", "table:0,10"], "expected NAME=NUMBER"),
        (
            ["-f", "table:thresholds=0,10,30", "--max-level", "5"],
            "--max-level 5 does not match the table's 3 thresholds",
        ),
        (["-f", "linear", "-p", "thresholds=0,10"], "only for the table family, not 'linear'"),
        (["-f", "table", "-p", "step=10", "-p", "thresholds=0,10"], "unknown parameter(s) 'step'"),
    ],
)
def test_bad_table_input_exits_2(gamify_cli, args, message):
    """Bad thresholds are refused in one line with exit code 2 and a message that fits."""
    run = gamify_cli("curve", "show", *args)
    assert run.exit_code == 2, run.stdout
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert message in lines[0]
    if "step" not in " ".join(args):  # no contradictory "unknown parameter 'thresholds'"
        assert "unknown parameter" not in lines[0]


def test_plot_table_writes_a_png(gamify_cli, tmp_path):
    """`curve plot` with a table curve writes a PNG with the table in the legend."""
    out = tmp_path / "table.png"
    run = gamify_cli(
        "curve", "plot", "-f", "table", "-p", "thresholds=0,100,250,450,700", "--out", out,
        "--json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert run.json() == {
        "out": str(out),
        "curves": ["table (thresholds=0,100,250,450,700), max level 5"],
    }
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_long_table_label_is_shortened():
    """A long table's label shows its first and last thresholds, not every one."""
    values = ",".join(str(10 * n) for n in range(50))
    (item,) = resolve_curves([], ["table"], [f"thresholds={values}"], max_level=None)
    assert item.label == "table (thresholds=0,10,20,...,490), max level 50"
    assert len(item.curve.thresholds) == 50


@pytest.mark.parametrize("command", ["show", "plot"])
def test_help_shows_the_table_spelling(gamify_cli, command):
    """`--help` shows how to give a table's thresholds."""
    run = gamify_cli("curve", command, "--help")
    assert run.exit_code == 0
    assert "thresholds=0,100,250" in run.stdout
