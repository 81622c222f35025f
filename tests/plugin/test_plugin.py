"""The pytest plugin shipped with gamify: clock and engine fixtures, usable with frozen time."""

from __future__ import annotations

import concurrent.futures.process  # noqa: F401 - see below
import subprocess
import sys
import textwrap

import pytest

pytest_plugins = ["pytester"]
# Imported here, before any inner session: freezegun inside one imports it lazily, and
# pytester's clean-up then drops it from sys.modules while multiprocessing keeps the old
# module, so later tests could no longer hand a queue to a spawned process.

PROGRAM = textwrap.dedent(
    """
    PROGRAM = {
        "timezone": "UTC",
        "actions": {"check_in": {"amount": "none"}},
        "rules": [{"name": "daily", "action": "check_in", "fixed": 5}],
        "caps": [{"name": "day", "limit": 5, "period": "day"}],
    }
    """
)


# Inner sessions skip hypothesis's plugin: pytester forgets the modules an inner
# session imports, so each one would import (and assert-rewrite) hypothesis again.
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_inner=PROGRAM + textwrap.dedent(source))
    return pytester.runpytest(*QUIET, *args)


def test_the_fixtures_need_no_conftest(pytester: pytest.Pytester) -> None:
    """Once gamify is installed its fixtures are there: no import, no conftest, no -p option."""
    pytester.makepyfile(
        test_bare=PROGRAM
        + textwrap.dedent(
            """
            def test_it(gamify_engine, gamify_clock):
                engine = gamify_engine(PROGRAM)
                assert engine.track("alice", "check_in").total() == 5
            """
        )
    )
    result = pytester.runpytest_subprocess(*QUIET)
    result.assert_outcomes(passed=1)


def test_the_clock_starts_at_the_documented_instant(pytester: pytest.Pytester) -> None:
    """gamify_clock is a ManualClock standing at DEFAULT_START (Monday 2026-01-05 12:00 UTC)."""
    result = run(
        pytester,
        """
        from datetime import UTC, datetime
        import gamify
        from gamify.testing.plugin import DEFAULT_START

        def test_it(gamify_clock):
            assert isinstance(gamify_clock, gamify.ManualClock)
            assert gamify_clock.now() == DEFAULT_START == datetime(2026, 1, 5, 12, tzinfo=UTC)
            assert gamify_clock.now() == gamify_clock.now()  # it stands still
        """,
    )
    result.assert_outcomes(passed=1)


def test_the_clock_is_set_and_advanced_in_any_zone(pytester: pytest.Pytester) -> None:
    """set() takes an instant in any zone; advance() moves by a duration, or by local calendar
    days."""
    result = run(
        pytester,
        """
        from datetime import UTC, datetime, timedelta
        import pendulum

        def test_it(gamify_clock):
            gamify_clock.set(pendulum.datetime(2026, 3, 7, 12, tz="America/New_York"))
            assert gamify_clock.now() == datetime(2026, 3, 7, 17, tzinfo=UTC)
            gamify_clock.advance(hours=3)
            assert gamify_clock.now() == datetime(2026, 3, 7, 20, tzinfo=UTC)
            gamify_clock.advance(timedelta(minutes=30))
            assert gamify_clock.now() == datetime(2026, 3, 7, 20, 30, tzinfo=UTC)
            # Across the spring-forward night a local day is 23 hours long.
            gamify_clock.advance(days=1, tz="America/New_York")
            assert gamify_clock.now() == datetime(2026, 3, 8, 19, 30, tzinfo=UTC)
            # Without a zone a day is 24 hours.
            gamify_clock.advance(days=1)
            assert gamify_clock.now() == datetime(2026, 3, 9, 19, 30, tzinfo=UTC)
            gamify_clock.advance(months=1, tz="Asia/Shanghai")
            assert gamify_clock.now() == datetime(2026, 4, 9, 19, 30, tzinfo=UTC)
            assert gamify_clock.now().tzinfo is not None
        """,
    )
    result.assert_outcomes(passed=1)


def test_each_test_gets_a_fresh_clock(pytester: pytest.Pytester) -> None:
    """Moving the clock in one test does not move it in the next."""
    result = run(
        pytester,
        """
        from gamify.testing.plugin import DEFAULT_START

        def test_first(gamify_clock):
            gamify_clock.advance(days=3)

        def test_second(gamify_clock):
            assert gamify_clock.now() == DEFAULT_START
        """,
    )
    result.assert_outcomes(passed=2)


def test_the_engine_factory_takes_a_dict_a_program_or_a_path(pytester: pytest.Pytester) -> None:
    """gamify_engine builds a fresh engine from a dict, a Program, or a TOML file."""
    pytester.makefile(
        ".toml",
        program='timezone = "UTC"\n[actions.check_in]\namount = "none"\n'
        '[[rules]]\nname = "daily"\naction = "check_in"\nfixed = 7\n',
    )
    result = run(
        pytester,
        """
        import pathlib
        import gamify

        HERE = pathlib.Path(__file__).parent

        def test_it(gamify_engine):
            from_dict = gamify_engine(PROGRAM)
            from_model = gamify_engine(gamify.Program.model_validate(PROGRAM))
            from_file = gamify_engine(HERE / "program.toml")
            from_text = gamify_engine(str(HERE / "program.toml"))
            assert from_dict.track("a", "check_in").total() == 5
            assert from_model.track("a", "check_in").total() == 5
            assert from_file.track("a", "check_in").total() == 7
            assert from_text.track("a", "check_in").total() == 7
            # Each engine has its own fresh store.
            assert from_model.balance("a") == 5 and from_dict.balance("a") == 5

        def test_bad_program(gamify_engine):
            import pytest
            with pytest.raises(gamify.ProgramError, match="timezone"):
                gamify_engine({"actions": {}})
        """,
    )
    result.assert_outcomes(passed=2)


def test_the_engine_runs_on_the_clock_fixture(pytester: pytest.Pytester) -> None:
    """By default the engine reads gamify_clock, so moving the fixture moves the engine's days."""
    result = run(
        pytester,
        """
        def test_it(gamify_engine, gamify_clock):
            engine = gamify_engine(PROGRAM)
            assert engine.clock is gamify_clock
            first = engine.track("a", "check_in")
            assert first.at == gamify_clock.now()
            assert engine.track("a", "check_in").total() == 0  # the daily cap
            gamify_clock.advance(days=1)
            assert engine.track("a", "check_in").total() == 5
            assert engine.balance("a") == 10

        def test_other_clock(gamify_engine):
            import gamify, pendulum
            clock = gamify.ManualClock(pendulum.datetime(2030, 1, 1, tz="UTC"))
            engine = gamify_engine(PROGRAM, clock=clock)
            assert engine.track("a", "check_in").at.year == 2030
        """,
    )
    result.assert_outcomes(passed=2)


def test_stores_opened_by_the_factory_are_closed_at_teardown(pytester: pytest.Pytester) -> None:
    """A store the factory opened from a URL is closed when the test ends; a store passed in is
    not."""
    result = run(
        pytester,
        """
        import gamify._registry
        from gamify_adapters.memory import MemoryStore

        CLOSED = []

        class Spy(MemoryStore):
            def __init__(self, url="memory://", name="spy"):
                super().__init__(url)
                self.name = name
            def close(self):
                CLOSED.append(self.name)

        def test_uses_stores(gamify_engine, monkeypatch):
            monkeypatch.setattr(gamify._registry, "open_store", lambda url: Spy(url, "opened"))
            gamify_engine(PROGRAM).track("a", "check_in")
            gamify_engine(PROGRAM, store=Spy(name="given")).track("a", "check_in")
            assert CLOSED == []

        def test_after():
            assert CLOSED == ["opened"]
        """,
    )
    result.assert_outcomes(passed=2)


def test_freezegun_drives_an_engine_on_the_system_clock(pytester: pytest.Pytester) -> None:
    """With clock=SystemClock(), freeze_time sets the engine's now and tick() moves it across
    days."""
    result = run(
        pytester,
        """
        from datetime import UTC, datetime, timedelta
        from freezegun import freeze_time
        import gamify

        def test_context_manager(gamify_engine):
            with freeze_time("2026-03-01 09:00:00+00:00") as frozen:
                engine = gamify_engine(PROGRAM, clock=gamify.SystemClock())
                first = engine.track("a", "check_in")
                assert first.at == datetime(2026, 3, 1, 9, tzinfo=UTC)
                assert engine.track("a", "check_in").total() == 0  # same frozen day: capped
                frozen.tick(timedelta(days=1))
                second = engine.track("a", "check_in")
                assert second.at == datetime(2026, 3, 2, 9, tzinfo=UTC)
                assert second.total() == 5
                assert engine.balance("a") == 10

        @freeze_time("2026-07-04 23:59:59+00:00")
        def test_decorator(gamify_engine):
            engine = gamify_engine(PROGRAM, clock=gamify.SystemClock())
            assert engine.track("a", "check_in").at == datetime(2026, 7, 4, 23, 59, 59, tzinfo=UTC)
        """,
    )
    result.assert_outcomes(passed=2)


def test_time_machine_drives_an_engine_on_the_system_clock(pytester: pytest.Pytester) -> None:
    """With clock=SystemClock(), time_machine.travel sets the engine's now and shift() moves it."""
    result = run(
        pytester,
        """
        from datetime import UTC, datetime, timedelta
        import time_machine
        import gamify

        def test_it(gamify_engine):
            with time_machine.travel(datetime(2026, 3, 1, 9, tzinfo=UTC), tick=False) as travel:
                engine = gamify_engine(PROGRAM, clock=gamify.SystemClock())
                assert engine.track("a", "check_in").at == datetime(2026, 3, 1, 9, tzinfo=UTC)
                assert engine.track("a", "check_in").total() == 0
                travel.shift(timedelta(days=1))
                assert engine.track("a", "check_in").total() == 5
        """,
    )
    result.assert_outcomes(passed=1)


def test_the_plugin_imports_nothing_heavy() -> None:
    """Loading the plugin pulls in no SQL library, no CLI library and no plotting library."""
    heavy = ["sqlmodel", "sqlalchemy", "psycopg", "typer", "click", "rich", "matplotlib"]
    code = (
        "import sys, gamify.testing.plugin\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_the_plugin_is_registered_as_an_entry_point() -> None:
    """The installed distribution declares gamify.testing.plugin under pytest11."""
    from importlib.metadata import entry_points

    found = [ep.value for ep in entry_points(group="pytest11") if ep.name == "gamify"]
    assert found == ["gamify.testing.plugin"]
