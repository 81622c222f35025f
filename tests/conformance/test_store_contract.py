"""Every store adapter passes the store contract (gamify.testing.conformance)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from gamify import Store
from gamify.testing.conformance import StoreContract

if TYPE_CHECKING:
    from conftest import StoreTarget  # tests/conftest.py


class TestStoreContract(StoreContract):
    """The contract on memory://, a SQLite file and PostgreSQL (GAMIFY_PG_URL)."""

    @pytest.fixture
    def store(self, gamify_store_target: StoreTarget) -> Iterator[Store]:
        store = gamify_store_target.open()
        yield store
        store.close()
