"""The SQL store: SQLite and PostgreSQL through SQLAlchemy 2.

Chosen by URL through :func:`gamify.open_store` (``sqlite:///gamify.db``,
``postgresql+psycopg://user@host/db``), or built directly::

    from gamify_adapters.sql import SQLStore
    store = SQLStore("sqlite:///gamify.db", prefix="gamify_", create=True)

Schema
    :func:`metadata` gives the tables as SQLAlchemy metadata for an app's Alembic
    ``target_metadata`` (pass ``create=False`` to the store when Alembic manages
    them); :func:`create_schema` (also :func:`gamify.create_schema`) creates them
    for apps without Alembic. Table names carry a prefix (default ``gamify_``).

Joining the app's transaction
    ``store.bind(session, on_commit=...)`` (``engine.using(session)``) writes in
    the app's SQLAlchemy/SQLModel ``Session`` or ``Connection``. On SQLite that
    session should begin IMMEDIATE: call :func:`begin_immediate` on the app's
    engine once, or open sessions with :func:`immediate_session`.
"""

from ._bound import BoundSQLStore
from ._sqlite import begin_immediate, immediate_session
from ._store import SQLStore, create_schema
from ._tables import DEFAULT_PREFIX, Tables, build_tables, metadata

__all__ = [
    "DEFAULT_PREFIX",
    "BoundSQLStore",
    "SQLStore",
    "Tables",
    "begin_immediate",
    "build_tables",
    "create_schema",
    "immediate_session",
    "metadata",
]
