"""Build hook: compile the modules every tracked event runs through with mypyc.

They are ordinary typed Python; mypyc turns each into a C extension that runs
the same code about twice as fast. A wheel holds the sources too, and Python
loads the compiled module when there is one. ``GAMIFY_COMPILE`` chooses:

- ``auto`` (the default): compile, or warn and build pure Python when that
  fails (no C compiler, say);
- ``yes``: compile, and fail the build when that fails (CI);
- ``no``: pure Python. Use it for an editable install of a checkout whose
  compiled modules you are changing: an extension next to its source is
  imported instead of the source.

An editable install writes the extensions next to their sources (the editable
import hook serves those folders); a wheel build writes nothing into the tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# The engine's core, the components it calls per event and the memory store.
# The public classes stay pure Python: a compiled function refuses an argument
# of the wrong type before its body runs, so callers' values meet gamify's own
# checks first.
COMPILED = (
    "gamify/_core.py",
    "gamify/_events.py",
    "gamify/_time.py",
    "gamify/_numbers.py",
    "gamify/_records.py",
    "gamify/components/_plans.py",
    "gamify/components/badges.py",
    "gamify/components/caps.py",
    "gamify/components/challenges.py",
    "gamify/components/earning.py",
    "gamify/components/ledger.py",
    "gamify/components/levels.py",
    "gamify/components/referrals.py",
    "gamify/components/streaks.py",
    "gamify/components/tiers.py",
    "adapters/gamify_adapters/memory.py",
)
# mypyc's runtime for the group, itself an extension module inside the package.
GROUP = "gamify._compiled"
# Where a module's folder sits in the tree (the adapters live under adapters/).
SOURCE_ROOTS = {"gamify_adapters": "adapters/gamify_adapters"}

_SETUP = """
import sys
from setuptools import setup
from mypyc.build import mypycify

build_lib, build_temp, group, *paths = sys.argv[1:]
setup(
    name="gamify-compiled",
    ext_modules=mypycify(["--ignore-missing-imports", *paths], group_name=group),
    script_args=["build_ext", "--build-lib", build_lib, "--build-temp", build_temp],
)
"""


def _choice() -> str:
    choice = os.environ.get("GAMIFY_COMPILE", "auto").strip().lower() or "auto"
    if choice not in ("auto", "yes", "no"):
        raise ValueError(f"GAMIFY_COMPILE must be auto, yes or no, not {choice!r}")
    return choice


def _tree_path(built: str) -> str:
    """Where an extension built as ``built`` (a path in the package layout) sits in the tree."""
    top, _, rest = built.partition("/")
    return f"{SOURCE_ROOTS[top]}/{rest}" if top in SOURCE_ROOTS else built


class CompileHook(BuildHookInterface):
    PLUGIN_NAME = "compile"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        if version == "editable":
            self._remove_built(root)
        choice = _choice()
        if choice == "no":
            return
        self._work = tempfile.mkdtemp(prefix="gamify-compile-")
        work = Path(self._work)
        built = self._compile(root, work)
        if built is None:
            if choice == "yes":
                raise RuntimeError("mypyc could not compile gamify (GAMIFY_COMPILE=yes)")
            return
        for path in built:
            relative = path.relative_to(work / "lib").as_posix()
            if version == "editable":
                target = root / _tree_path(relative)
                shutil.copy2(path, target)
            else:
                build_data["force_include"][str(path)] = relative
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        self.app.display_info(f"compiled {len(COMPILED)} modules with mypyc ({suffix})")

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        work = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)

    def _compile(self, root: Path, work: Path) -> list[Path] | None:
        """The built extensions (paths under ``work/lib``), or None after a warning."""
        paths = [str(root / p) for p in COMPILED]
        command = [sys.executable, "-c", _SETUP, str(work / "lib"), str(work / "tmp"), GROUP]
        try:
            done = subprocess.run(
                [*command, *paths],
                cwd=work,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                check=False,
            )
        except OSError as exc:
            self.app.display_warning(f"gamify: could not run mypyc ({exc}); building pure Python")
            return None
        if done.returncode != 0:
            self.app.display_warning(
                "gamify: mypyc failed, building pure Python "
                f"(set GAMIFY_COMPILE=no to skip it):\n{done.stdout[-4000:]}"
            )
            return None
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        return sorted((work / "lib").rglob(f"*{suffix}"))

    @staticmethod
    def _remove_built(root: Path) -> None:
        """Drop extensions an earlier editable install left next to the sources (the
        project has no others), so none outlives the source or the list it came from."""
        for folder in ("gamify", *SOURCE_ROOTS.values()):
            for path in (root / folder).rglob("*"):
                if path.suffix in (".so", ".pyd"):
                    path.unlink()


def get_build_hook() -> type[BuildHookInterface]:
    return CompileHook
