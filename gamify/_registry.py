"""Store URLs to adapters: one table of strings, imported lazily."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from gamify.errors import ConfigurationError, GamifyError
from gamify.store import Store

ADAPTERS: dict[str, tuple[str, str]] = {
    # scheme: ("module:Class", what to install when the import fails)
    "memory": ("gamify_adapters.memory:MemoryStore", "gamify-sdk"),
    "sqlite": ("gamify_adapters.sql:SQLStore", "gamify-sdk"),
    "postgresql": ("gamify_adapters.sql:SQLStore", "gamify-sdk[postgres]"),
}


def open_store(url: str, **options: Any) -> Store:
    """The store for ``url``: ``memory://``, ``sqlite:///gamify.db``,
    ``postgresql+psycopg://user@host/db``. ``options`` go to the adapter."""
    if not isinstance(url, str):
        raise ConfigurationError(f"a store URL is a string, not {url!r}")
    name, colon, rest = url.partition(":")
    scheme = name.split("+", 1)[0].lower() if colon else ""
    if scheme not in ADAPTERS:
        known = ", ".join(f"{s}://" for s in ADAPTERS)
        raise ConfigurationError(f"unknown store URL {url!r}: use one of {known}")
    url = f"{name.lower()}:{rest}"  # schemes are case-insensitive; drivers want lower case
    target, extra = ADAPTERS[scheme]
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"the {scheme} store needs a package that is not installed ({exc.name}): "
            f"pip install '{extra}'"
        ) from exc
    store_class = getattr(module, class_name)
    unknown = _unknown_options(store_class, options)
    if unknown:
        raise ConfigurationError(f"the {scheme} store: unexpected keyword argument {unknown[0]!r}")
    try:
        store: Store = store_class(url, **options)
    except TypeError as exc:  # an option the adapter does not take
        raise ConfigurationError(f"the {scheme} store: {exc}") from None
    except ValueError as exc:
        if isinstance(exc, GamifyError):
            raise
        raise ConfigurationError(f"cannot open the store at {url!r}: {exc}") from None
    return store


def _unknown_options(store_class: type, options: Mapping[str, object]) -> list[str]:
    """The options ``store_class`` does not take, by its signature (a compiled class's
    own TypeError does not name them)."""
    try:
        parameters = inspect.signature(store_class).parameters
    except (TypeError, ValueError):  # no signature to read: the call itself decides
        return []
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return []
    return sorted(set(options) - set(parameters))
