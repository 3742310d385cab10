"""One transaction for every store write a message makes (the annotate task's unit of work).

Strategy: the stores (`Store`, `FeedbackStore`, `FollowupStore`) share one
engine and each opens its write sessions through `write_session`. Outside a
unit that is a session of its own, committed on exit, as before. Inside
`unit_of_work(engine)` every write on that engine joins the unit's session,
and the whole message (inbound row, details, annotation and flags, follow-ups)
commits once: one SQLite write lock and one commit instead of five, and the
message is either all in the store or not at all.

A concurrent first insert of the same key (the same message annotated twice at
once) raises IntegrityError; outside a unit each write retries itself, inside
one the writers let it through (`in_unit`) and `run_unit` retries the whole
unit once, when the other writer's rows are there to be updated.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Engine, Insert, Table, insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hl7.errors import TransientError

T = TypeVar("T")

_current: ContextVar[Session | None] = ContextVar("radflag_store_unit", default=None)
_new_keys: ContextVar[set[str] | None] = ContextVar("radflag_store_unit_new_keys", default=None)
_memo: ContextVar[dict[str, Any] | None] = ContextVar("radflag_store_unit_memo", default=None)
_later: ContextVar[_LaterRows | None] = ContextVar("radflag_store_unit_later", default=None)


# A child row of a row inserted later: (its model, the attribute naming the parent's id, values).
Child = tuple[type[Any], str, dict[str, Any]]


class _LaterRows:
    """The new rows of a unit, by model in the order first given; children wait for their ids."""

    def __init__(self) -> None:
        self._rows: dict[type[Any], list[tuple[dict[str, Any], tuple[Child, ...]]]] = {}

    def add(self, model: type[Any], values: dict[str, Any], children: tuple[Child, ...]) -> None:
        self._rows.setdefault(model, []).append((values, children))

    def insert(self, session: Session) -> None:
        connection = session.connection()
        while self._rows:
            model = next(iter(self._rows))
            rows = self._rows.pop(model)
            values = [row for row, _ in rows]
            table = model.__table__
            if not any(children for _, children in rows):
                connection.execute(_insert(table), values)
                continue
            ids = connection.execute(_insert_returning_ids(table), values).scalars().all()
            for parent_id, (_, children) in zip(ids, rows, strict=True):
                for child, key, child_values in children:
                    self.add(child, {**child_values, key: parent_id}, ())


@functools.cache
def _insert(table: Table) -> Insert:
    """The INSERT of `table`'s rows, built once (its cache key then is memoized too)."""
    return insert(table)


@functools.cache
def _insert_returning_ids(table: Table) -> Insert:
    """`_insert` returning the new rows' ids in the order of the rows given."""
    return insert(table).returning(table.c.id, sort_by_parameter_order=True)


def known_new(dedupe_key: str) -> bool:
    """True when the open unit found no row of `dedupe_key`'s message: writers skip the lookup."""
    new = _new_keys.get()
    return new is not None and dedupe_key in new and _current.get() is not None


def unit_memo() -> dict[str, Any] | None:
    """A dict that lives as long as the open unit (None outside one), for reads it shares.

    A batch's writers read some rows once for all its messages (e.g. the open
    follow-ups of its patients) and keep them here; they go with the unit.
    """
    return _memo.get()


def insert_if_new(
    dedupe_key: str, model: type[Any], values: dict[str, Any], *children: Child
) -> bool:
    """When the open unit knows `dedupe_key`'s message is new: insert this row at its commit.

    Returns True when the unit took the row (with its `children`), False when
    the caller must look the row up and write it itself (outside a unit, or a
    message already stored). `values` are the row's columns (Core inserts them
    into `model.__table__`; the models name their attributes after their
    columns); each child names the column that takes this row's `id`.
    """
    later = _later.get()
    if later is None or not known_new(dedupe_key):
        return False
    later.add(model, values, children)
    return True


def in_unit() -> bool:
    """True inside `unit_of_work`: writers leave IntegrityError to the unit."""
    return _current.get() is not None


@contextmanager
def write_session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session in a transaction: the open unit's when it is on the same engine, else a new one.

    A new one commits on a normal exit and rolls back on an exception; the unit's
    commits when the unit ends.
    """
    shared = _current.get()
    if shared is not None and shared.bind is sessions.kw.get("bind"):
        yield shared
        return
    with sessions.begin() as session:
        yield session


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """Every store write on `engine` inside commits together on exit; TransientError if down."""
    if _current.get() is not None:
        raise RuntimeError("store units do not nest")
    # No autoflush: the writers' lookups are by keys the unit has not written yet, and
    # the unit of work then inserts each table's rows together at the commit.
    session = Session(engine, expire_on_commit=False, autoflush=False)
    token = _current.set(session)
    new_token = _new_keys.set(set())
    memo_token = _memo.set({})
    later = _LaterRows()
    later_token = _later.set(later)
    try:
        with session.begin():
            yield session
            later.insert(session)
    except OperationalError as e:
        raise TransientError(f"message store unavailable: {e.orig!r}") from e
    finally:
        _later.reset(later_token)
        _memo.reset(memo_token)
        _new_keys.reset(new_token)
        _current.reset(token)
        session.close()


def mark_new(dedupe_key: str) -> None:
    """Inside a unit: `dedupe_key` has no rows yet (the caller looked, in this transaction).

    Every row a message makes is written in its unit, so a message whose inbound
    row is missing has none of the others either; `known_new` then lets the
    writers insert without looking each row up first.
    """
    new = _new_keys.get()
    if _current.get() is None or new is None:
        raise RuntimeError("mark_new outside a store unit")
    new.add(dedupe_key)


def run_unit(engine: Engine, work: Callable[[], T]) -> T:
    """`work()` inside a unit of work; a concurrent first insert retries it once."""
    for attempt in (1, 2):
        try:
            with unit_of_work(engine):
                return work()
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
