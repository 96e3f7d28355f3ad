"""SQLite write turns go round the sites: a busy site cannot make another wait behind its queue."""

from __future__ import annotations

import anyio

from sitescim.web.write_turns import WriteTurns


async def _take(
    turns: WriteTurns, site: str, name: str, order: list[str], hold: anyio.Event
) -> None:
    async with turns.turn(site):
        order.append(name)
        await hold.wait()


def test_the_turn_goes_round_the_sites_in_order_within_each() -> None:
    async def scenario() -> list[str]:
        turns, order, release = WriteTurns(), [], anyio.Event()
        async with anyio.create_task_group() as group:
            for name in ("a1", "a2", "a3"):
                group.start_soon(_take, turns, "A", name, order, release)
                await anyio.sleep(0.01)
            group.start_soon(_take, turns, "B", "b1", order, release)
            group.start_soon(_take, turns, "C", "c1", order, release)
            await anyio.sleep(0.01)
            assert order == ["a1"]
            assert turns.waiting == 4
            release.set()
        return order

    assert anyio.run(scenario) == ["a1", "b1", "c1", "a2", "a3"]


def test_a_waiter_that_gives_up_leaves_no_trace() -> None:
    async def scenario() -> tuple[list[str], int]:
        turns, order = WriteTurns(), []
        first, release = anyio.Event(), anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(_take, turns, "A", "a1", order, first)
            await anyio.sleep(0.01)
            with anyio.move_on_after(0.05):  # a client that hangs up while waiting
                await _take(turns, "B", "b-gone", order, release)
            assert turns.waiting == 0
            group.start_soon(_take, turns, "C", "c1", order, release)
            await anyio.sleep(0.01)
            first.set()
            release.set()
        async with turns.turn("D"):  # free again: taken at once
            order.append("d1")
        return order, turns.waiting

    assert anyio.run(scenario) == (["a1", "c1", "d1"], 0)
