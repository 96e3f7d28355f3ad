"""`sitescim serve --workers N`: N processes answer on one port, against one database.

Which worker answered is read from /proc (the process holding the server side
of each connection), never from the response: no header tells clients a pid.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import pytest

from tests.factories import bearer
from tests.integration.killable import SCIM, killable_server, service_env, serving_pid, site_token
from tests.integration.killable import user_payload as payload

pytestmark = pytest.mark.slow

MAX_CONNECTIONS = 400
CLIENTS = 8


def _request(
    connection: Connection, method: str, path: str, token: str, body: object = None
) -> tuple[int, dict[str, object]]:
    headers = {**bearer(token), "Accept": SCIM}
    data = None
    if body is not None:
        headers["Content-Type"] = SCIM
        data = json.dumps(body)
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def _fan_out(port: int, workers: set[int], send: Callable[[Connection, int], None]) -> None:
    """Call ``send`` on new connections, CLIENTS at a time, until it raises StopIteration.

    An idle worker accepts every pending connection at once; only under load
    does the other win some, so a worker is seen answering only this way. Each
    call learns which worker holds its connection from ``connection.worker``.
    """
    attempts = itertools.count()

    def client() -> None:
        while (i := next(attempts)) < MAX_CONNECTIONS:
            with closing(Connection("127.0.0.1", port, workers)) as connection:
                try:
                    send(connection, i)
                except StopIteration:
                    return
        raise AssertionError(f"{MAX_CONNECTIONS} requests did not reach both workers")

    with ThreadPoolExecutor(CLIENTS) as pool:
        for future in [pool.submit(client) for _ in range(CLIENTS)]:
            future.result()


class Connection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, workers: set[int]) -> None:
        super().__init__(host, port, timeout=30)
        self.workers = workers

    @property
    def worker(self) -> int:
        assert self.sock is not None
        pid = serving_pid(self.port, self.sock.getsockname()[1], self.workers)
        assert pid in self.workers
        return pid


def test_two_workers_both_answer_scim_and_see_each_others_writes(db_url, tmp_path):
    env = service_env(db_url)
    token = site_token(env)
    with killable_server(env, tmp_path, "--workers", "2") as server:
        workers = server.workers()
        assert len(workers) == 2, server.output()
        port = int(server.base_url.rsplit(":", 1)[1])
        created: dict[str, int] = {}  # user id: the worker that created it
        lock = threading.Lock()

        def create(connection: Connection, i: int) -> None:
            status, user = _request(
                connection, "POST", "/scim/v2/Users", token,
                payload(f"worker-{i}@example.com", f"Worker {i}"),
            )  # fmt: skip
            assert status == 201, user
            with lock:
                created[str(user["id"])] = connection.worker
                if set(created.values()) == workers:
                    raise StopIteration

        _fan_out(port, workers, create)

        # Each worker reads what the other wrote: nothing lives in process memory.
        crossed: set[tuple[int, int]] = set()  # (writer, reader)
        ids = sorted(created)

        def read(connection: Connection, i: int) -> None:
            user_id = ids[i % len(ids)]
            status, user = _request(connection, "GET", f"/scim/v2/Users/{user_id}", token)
            assert status == 200, user
            with lock:
                if connection.worker != created[user_id]:
                    crossed.add((created[user_id], connection.worker))
                if len(crossed) == 2:
                    raise StopIteration

        _fan_out(port, workers, read)
        assert server.workers() == workers, "a worker died and was replaced"
