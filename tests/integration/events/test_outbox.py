"""The outbox's own promises: events stand or fall with their change, and the feed's
positions follow commit order, so a reader that keeps its cursor misses none."""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from sitescim.db.driver import driver
from sitescim.db.engine import before_commit
from sitescim.db.repositories import events as events_repo
from sitescim.db.repositories.events import last_position
from sitescim.domain.errors import InvalidInputError
from sitescim.domain.events import EventType, event_id, parse_event_id, parse_types
from sitescim.services import events
from sitescim.services.audit import Who
from sitescim.services.runtime import Runtime
from tests.world import World

SYSTEM = Who(kind="system")


def _event(world: World, resource_id: str, **data: object) -> events.NewEvent:
    return events.NewEvent(
        type=EventType.USER_UPDATED,
        site_id=world.site_a,
        resource_id=resource_id,
        data={"id": resource_id, **data},
        who=SYSTEM,
        now=world.runtime.clock(),
    )


def _all(runtime: Runtime, after: int) -> list[dict[str, Any]]:
    return events.read_feed(runtime, events.FeedQuery(after=after, limit=events.MAX_PAGE)).events


def _start(world: World) -> int:
    """The feed's end once the world is made (its people's ``user.created``)."""
    with world.runtime.db.transaction(write=False) as session:
        return last_position(session)


def test_committed_events_are_numbered_in_order_and_shown_with_their_site(world: World) -> None:
    start = _start(world)
    with world.runtime.db.transaction(write=True) as session:
        events.emit(session, _event(world, "u1"), _event(world, "u2"))
    with world.runtime.db.transaction(write=True) as session:
        events.emit(session, _event(world, "u3"))

    page = events.read_feed(world.runtime, events.FeedQuery(after=start))
    assert [e["data"]["id"] for e in page.events] == ["u1", "u2", "u3"]
    ids = [e["id"] for e in page.events]
    assert ids == sorted(ids)
    assert page.next == ids[-1]
    first = page.events[0]
    assert first["site"] == {"id": world.site_a, "slug": "site-a"}
    assert first["type"] == "user.updated"
    assert first["actor"] == {"type": "system", "id": None, "label": None}

    after_first = events.read_feed(world.runtime, events.FeedQuery(after=parse_event_id(ids[0])))
    assert [e["id"] for e in after_first.events] == ids[1:]
    empty = events.read_feed(world.runtime, events.FeedQuery(after=parse_event_id(ids[-1])))
    assert empty.events == []
    assert empty.next == ids[-1]


def test_a_rolled_back_change_and_a_rolled_back_savepoint_leave_no_event(world: World) -> None:
    start = _start(world)

    def fail_after_emitting() -> None:
        with world.runtime.db.transaction(write=True) as session:
            events.emit(session, _event(world, "lost"))
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError, match="the change failed"):
        fail_after_emitting()
    with world.runtime.db.transaction(write=True) as session:
        try:
            with session.begin_nested():
                events.emit(session, _event(world, "failed-operation"))
                raise RuntimeError("one Bulk operation failed")
        except RuntimeError:
            pass
        events.emit(session, _event(world, "kept"))

    assert [e["data"]["id"] for e in _all(world.runtime, start)] == ["kept"]
    with world.runtime.db.transaction(write=False) as session:
        unnumbered = session.execute(text("SELECT count(*) FROM events WHERE position IS NULL"))
        assert unnumbered.scalar_one() == 0


def test_positions_run_on_without_a_gap_past_a_rolled_back_savepoint(world: World) -> None:
    """SQLite numbers events as they are inserted, PostgreSQL as they commit: the feed's
    positions are the same either way."""
    start = _start(world)
    with world.runtime.db.transaction(write=True) as session:
        events.emit(session, _event(world, "first"))
        try:
            with session.begin_nested():
                events.emit(session, _event(world, "failed-operation"))
                raise RuntimeError("one Bulk operation failed")
        except RuntimeError:
            pass
        events.emit(session, _event(world, "second"), _event(world, "third"))
    with world.runtime.db.transaction(write=True) as session:
        events.emit(session, _event(world, "fourth"))

    shown = _all(world.runtime, start)
    assert [e["data"]["id"] for e in shown] == ["first", "second", "third", "fourth"]
    assert [parse_event_id(e["id"]) for e in shown] == list(range(start + 1, start + 5))


def test_events_left_for_the_commit_to_number_keep_their_place_before_later_ones(
    world: World,
) -> None:
    """A writer may insert its events unnumbered and number them at commit (as a
    Bulk batch may); an event emitted after them in the transaction still comes after."""
    start = _start(world)
    with world.runtime.db.transaction(write=True) as session:
        row = {column: None for column in events_repo.COLUMNS}
        row.update(events.event_row(_event(world, "left-for-the-commit")))
        driver(session).insert(
            events_repo._INSERT_ROWS,
            events_repo.COLUMNS,
            [row],
            moments=("occurred_at",),
            json_columns=("data", "changes"),
        )
        before_commit(session).append(events_repo.number)
        events.emit(session, _event(world, "emitted-after"))

    shown = _all(world.runtime, start)
    assert [e["data"]["id"] for e in shown] == ["left-for-the-commit", "emitted-after"]


def test_filters_by_site_and_type_and_the_cursor_moves_past_what_they_hide(world: World) -> None:
    start = _start(world)
    with world.runtime.db.transaction(write=True) as session:
        events.emit(session, _event(world, "a1"))
        events.emit(
            session,
            events.NewEvent(
                type=EventType.GROUP_CREATED,
                site_id=world.site_b,
                resource_id="g1",
                data={"id": "g1"},
                who=SYSTEM,
                now=world.runtime.clock(),
            ),
        )
    only_b = events.read_feed(world.runtime, events.FeedQuery(after=start, site_ids=[world.site_b]))
    assert [e["data"]["id"] for e in only_b.events] == ["g1"]
    only_users = events.read_feed(
        world.runtime,
        events.FeedQuery(after=start, types=parse_types("user.updated, user.created")),
    )
    assert [e["data"]["id"] for e in only_users.events] == ["a1"]


@pytest.mark.parametrize("cursor", ["", "42", "evt_", "evt_-1", "evt_1x", "evt_" + "9" * 17])
def test_a_bad_cursor_is_refused_clearly(cursor: str) -> None:
    with pytest.raises(InvalidInputError, match="cursor"):
        parse_event_id(cursor)


def test_an_unknown_event_type_is_refused_by_name() -> None:
    with pytest.raises(InvalidInputError, match=r"'user\.renamed' is not an event type"):
        parse_types("user.created,user.renamed")
    assert event_id(42) == "evt_0000000000000042"


def _linger(seconds: float, _session: Session) -> None:
    time.sleep(seconds)


@pytest.mark.slow
def test_a_reader_following_eight_writers_sees_every_event_once_in_commit_order(
    world: World,
) -> None:
    """Writers hold their transactions open for different times, so later starters often
    commit first: positions must still never let the reader pass an event it did not see."""
    runtime = world.runtime
    writers, per_writer = 8, 25
    done = threading.Event()
    seen: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def write(number: int) -> None:
        try:
            for i in range(per_writer):
                with runtime.db.transaction(write=True) as session:
                    time.sleep(0.001 * ((number + i) % 4))
                    events.emit(session, _event(world, f"w{number}-{i}", seq=i))
                    # Linger between numbering and commit, where a reader could pass them.
                    before_commit(session).append(functools.partial(_linger, 0.001 * (i % 3)))
        except BaseException as error:
            errors.append(error)

    start = _start(world)

    def follow() -> None:
        after = start
        while True:
            finished = done.is_set()
            page = events.read_feed(runtime, events.FeedQuery(after=after, limit=7))
            seen.extend(page.events)
            after = parse_event_id(page.next)
            if finished and not page.events:
                return
            if not page.events:
                time.sleep(0.002)  # as a consumer polls; a spinning thread starves the writers' GIL

    reader = threading.Thread(target=follow)
    reader.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join(timeout=60)

    assert not errors
    names = [e["data"]["id"] for e in seen]
    assert len(names) == len(set(names)) == writers * per_writer
    positions = [parse_event_id(str(e["id"])) for e in seen]
    assert positions == sorted(positions)
    for number in range(writers):  # each writer's own events arrive in the order it made them
        mine = [e["data"]["seq"] for e in seen if str(e["data"]["id"]).startswith(f"w{number}-")]
        assert mine == list(range(per_writer))
