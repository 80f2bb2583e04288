"""A real HTTP receiver on 127.0.0.1 and the case-world of the cases tests."""

import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from civicgrid.cases import actions as A
from civicgrid.cases.tests.conftest import World
from civicgrid.webhooks.actions import forget_subscriptions


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    """Records every POST; answers with the next status of ``statuses`` (then 200)."""

    url: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0

    def answer(self) -> int:
        return self.statuses.pop(0) if self.statuses else 200


@pytest.fixture
def receiver():
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.received.append(Received(self.path, dict(self.headers), body))
            status = state.answer()
            time.sleep(state.delay)
            reply = b"ok" if status < 300 else b"receiver is unwell"
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except OSError:  # the client gave up waiting
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/civicgrid"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def closed_port_url():
    """A URL on a port nothing listens on: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"


@pytest.fixture(autouse=True)
def fresh_subscription_cache():
    """Each test's subscriptions are rolled back with it; so is this process's copy."""
    forget_subscriptions()
    yield
    forget_subscriptions()


class CaseWorld(World):
    def report(self, **extra):
        lat, lng = self.point()
        values = dict(
            actor=None,
            channel="resident",
            description="小区门口有一辆僵尸车，停了三个月，车主电话13905741234",
            lat=lat,
            lng=lng,
            reporter_name="张三",
            reporter_phone="13905741234",
        )
        values.update(extra)
        return A.do_report_case(**values)

    def accepted(self, **extra):
        return A.do_accept_case(self.report(**extra), actor=self.p.lizhou, category=self.category)


@pytest.fixture
def world(personas):
    return CaseWorld(personas)
