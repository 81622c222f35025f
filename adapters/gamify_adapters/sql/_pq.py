"""The store's own PostgreSQL transactions, sent through the connection's libpq handle.

A unit of work on PostgreSQL is two round trips of a few statements each. psycopg's
cursor spends most of the client's time on them in Python (its generators, pipeline
bookkeeping and per-statement caches), which is what a busy process runs short of
first: with eight threads on two cores, the client's share decided the throughput.
:class:`PqCursor` offers the part of the cursor interface the store's statements use
(``execute``, ``executemany``, ``fetchone``, ``fetchall``, ``rowcount``,
``statusmessage`` and pipelines) directly on ``psycopg.pq``, with psycopg's own
adapters to dump parameters and load rows, so values come back as a psycopg cursor
returns them and errors are psycopg's (which :mod:`._errors` translates).

It serves only the store's own work on its autocommit driver connections (units of
work, reads, outbox drains); a transaction of the app's session runs on the app's
psycopg cursor.

- Parameters go as text without declared types: the server types each from where it
  stands, the same way whether the statement is prepared or not.
- A statement is prepared once it has run ``prepare_threshold`` times on the connection
  (psycopg's setting; ``None`` prepares nothing, as behind a transaction-pooling
  PgBouncer). Once ``prepared_max`` are prepared, further statements run unnamed: the
  store's few frequent ones are prepared first, and nothing is ever deallocated, so no
  DEALLOCATE can fail inside a transaction.
- Inside ``pipeline()`` statements are only sent; leaving it sends a sync, reads every
  result and raises the first error. Outside, each statement is such a round trip of
  its own. Either way the result of the last statement is what ``fetch*`` read.
- A round trip interrupted before its results were all read leaves the connection in
  an unknown state: ``doubtful`` says so, and the store then discards the connection.
"""

from __future__ import annotations

import re
import select
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer

__all__ = ["PqCursor"]

_PLACEHOLDER = re.compile(r"%(s|%)")
_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK, pq.ExecStatus.EMPTY_QUERY)
_TEXT_FORMATS = [[PyFormat.TEXT] * n for n in range(128)]  # every parameter sent as text


def _numbered(sql: str) -> bytes:
    """``sql`` with psycopg's ``%s`` placeholders as ``$1, $2, ...`` (and ``%%`` as ``%``)."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(1) == "%":
            return "%"
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql).encode()


class PqCursor:
    """One driver connection's statements, on libpq (see the module's docstring).

    Kept with its connection and reused by each transaction on it; ``close`` only drops
    the last result.
    """

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection
        self._pgconn = connection.pgconn
        self._encoding = connection.info.encoding
        self._transformer = Transformer(connection)
        self._threshold: int | None = connection.prepare_threshold
        most = connection.prepared_max
        self._max = most if most is not None else sys.maxsize
        self._texts: dict[str, bytes] = {}  # sql -> the text sent
        self._uses: dict[str, int] = {}
        self._prepared: dict[str, bytes] = {}  # sql -> its name on the server
        self._names = 0  # names given, so that none is given twice
        self._depth = 0  # nested pipeline() blocks
        # What each result of the round trip in progress answers: a statement (None), or
        # the PREPARE of a statement (its sql and name).
        self._expected: list[tuple[str, bytes] | None] = []
        self._summing = False  # executemany: rowcount adds up its statements' rows
        # poll() where there is one (not on Windows): select() fails past fd 1024.
        self._poll = select.poll() if hasattr(select, "poll") else None
        if self._poll is not None:
            self._poll.register(self._pgconn.socket, select.POLLIN)
        self._result: pq.abc.PGresult | None = None
        self._rows: list[tuple[Any, ...]] | None = None
        self._row = 0
        self.rowcount = -1
        self.statusmessage: str | None = None
        self.doubtful = False

    # The cursor interface -----------------------------------------------------------------

    def execute(
        self, sql: str, params: Sequence[Any] | None = None, *, prepare: bool | None = None
    ) -> PqCursor:
        if self._depth:
            self._send(sql, params, prepare)
        else:
            with self.pipeline():
                self._send(sql, params, prepare)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._summing = not self._depth
        try:
            with self.pipeline():
                for params in rows:
                    self._send(sql, params, None)
        finally:
            self._summing = False

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self._loaded()
        if self._row >= len(rows):
            return None
        self._row += 1
        return rows[self._row - 1]

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self._loaded()
        out = rows[self._row :]
        self._row = len(rows)
        return out

    def close(self) -> None:
        self._result, self._rows = None, None

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """Statements run inside are sent together, with one sync when the outermost block
        ends; their first error is raised then."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        pgconn = self._pgconn
        self._depth = 1
        self._expected = []
        self.doubtful = True  # until every result of the round trip is read
        pgconn.enter_pipeline_mode()
        try:
            try:
                yield
            finally:
                self._depth = 0
                results = self._round_trip()
            pgconn.exit_pipeline_mode()
        except BaseException:
            if not self.doubtful:
                pgconn.exit_pipeline_mode()
            raise
        self._take(results)

    # Sending --------------------------------------------------------------------------------

    def _send(self, sql: str, params: Sequence[Any] | None, prepare: bool | None) -> None:
        pgconn = self._pgconn
        if params is None:
            pgconn.send_query_params(sql.encode(), None)
            self._expected.append(None)
            return
        text = self._texts.get(sql)
        if text is None:
            text = self._texts[sql] = _numbered(sql)
        count = len(params)
        formats = _TEXT_FORMATS[count] if count < len(_TEXT_FORMATS) else [PyFormat.TEXT] * count
        values = self._transformer.dump_sequence(params, formats)
        name = self._name(sql, text, prepare)
        if name is None:
            pgconn.send_query_params(text, values)
        else:
            pgconn.send_query_prepared(name, values)
        self._expected.append(None)

    def _name(self, sql: str, text: bytes, prepare: bool | None) -> bytes | None:
        """The prepared statement to run ``sql`` as (preparing it now when it is due), or
        None to run it unnamed."""
        name = self._prepared.get(sql)
        if name is not None:
            return name
        if prepare is False or self._threshold is None or len(self._prepared) >= self._max:
            return None
        uses = self._uses.get(sql, 0) + 1
        if uses < self._threshold and not prepare:
            self._uses[sql] = uses
            return None
        self._uses.pop(sql, None)
        self._names += 1
        name = f"_gamify_{self._names}".encode()
        self._pgconn.send_prepare(name, text)
        self._expected.append((sql, name))
        return name

    # Receiving ------------------------------------------------------------------------------

    def _round_trip(self) -> list[pq.abc.PGresult]:
        """Send a sync and read every result up to it."""
        pgconn = self._pgconn
        pgconn.pipeline_sync()
        while pgconn.flush():  # the rest waits for the socket to take it
            self._wait(write=True)
            pgconn.consume_input()
        results: list[pq.abc.PGresult] = []
        while True:
            while pgconn.is_busy():
                self._wait()
                pgconn.consume_input()
            result = pgconn.get_result()
            if result is None:
                continue  # the end of one statement's results
            if result.status == pq.ExecStatus.PIPELINE_SYNC:
                self.doubtful = False
                return results
            results.append(result)

    def _wait(self, *, write: bool = False) -> None:
        """Until the socket can be read (or, with ``write``, read or written)."""
        fd = self._pgconn.socket
        if self._poll is not None:
            self._poll.modify(fd, select.POLLIN | select.POLLOUT if write else select.POLLIN)
            self._poll.poll()
        else:
            select.select([fd], [fd] if write else [], [])

    def _take(self, results: list[pq.abc.PGresult]) -> None:
        """Record what the round trip prepared, keep its last statement's result and raise
        its first error."""
        error: pq.abc.PGresult | None = None
        last: pq.abc.PGresult | None = None
        count = 0
        for prepared, result in zip(self._expected, results, strict=True):
            ok = result.status in _OK
            if not ok and error is None and result.status != pq.ExecStatus.PIPELINE_ABORTED:
                error = result
            if prepared is not None:
                if ok:  # a PREPARE that failed (in an aborted pipeline, say) named nothing
                    self._prepared[prepared[0]] = prepared[1]
                continue
            last = result
            count += (result.command_tuples or 0) if ok else 0
        self._result, self._rows, self._row = None, None, 0
        if error is not None:
            raise psycopg.errors.error_from_result(error, encoding=self._encoding)
        self._result = last
        self.statusmessage = (
            last.command_status.decode() if last is not None and last.command_status else None
        )
        tuples = last.command_tuples if last is not None else None
        self.rowcount = count if self._summing else tuples if tuples is not None else -1

    def _loaded(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            result = self._result
            if result is None or result.status != pq.ExecStatus.TUPLES_OK:
                raise psycopg.ProgrammingError("the last statement returned no rows")
            self._transformer.set_pgresult(result)
            self._rows = self._transformer.load_rows(0, result.ntuples, tuple)
        return self._rows
