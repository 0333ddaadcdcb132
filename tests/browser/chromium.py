"""Headless Chromium driven over the DevTools protocol on a pipe (no websocket, no extra package).

`Browser().visible(path)` opens an HTML file and returns what a reader sees: the page's
`innerText` (hidden elements left out), each table row's text, the text of its <code>
elements, and every Content Security Policy violation the browser logged. The page's own
policy stays as it is: the DevTools protocol evaluates outside it, so the page needs no script.
"""
from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# What a reader sees, gathered in one evaluation (run by the DevTools protocol, not the page).
SEEN = """JSON.stringify({
  text: document.body.innerText,
  rows: [...document.querySelectorAll('tr')].filter(r => r.offsetParent !== null).map(r => r.innerText),
  code: [...document.querySelectorAll('code')].filter(c => c.offsetParent !== null).map(c => c.textContent),
  monospace: [...document.querySelectorAll('code')].every(c => /mono/.test(getComputedStyle(c).fontFamily)),
  scripts: document.scripts.length,
  csp: (document.querySelector('meta[http-equiv="Content-Security-Policy"]') || {}).content || null,
})"""


class Browser:
    """One headless Chromium; `close()` (or a `with` block) ends it."""

    def __init__(self, timeout: float = 60.0) -> None:
        if CHROMIUM is None:
            raise RuntimeError("chromium is not installed (scripts/setup.sh installs it)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="grader-chromium-")
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        # out of the way of 3 and 4, where the browser expects the protocol pipes
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_child, from_child)]
        for fd in (to_child, from_child):
            os.close(fd)

        def protocol_fds() -> None:
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--allow-file-access-from-files", f"--user-data-dir={self.profile}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=protocol_fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in high:
            os.close(fd)
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict] = []

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:  # noqa: BLE001  (already gone)
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result (events that arrive meanwhile are kept)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def _wait_for(self, method: str, session: str) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self._events:
                if event.get("method") == method and event.get("sessionId") == session:
                    self._events.remove(event)
                    return
            self._events.append(self._message(deadline))

    def visible(self, page: Path) -> dict:
        """Open `page` in a new tab and return what a reader sees (see SEEN) plus `violations`."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        try:
            self.send("Page.enable", session=session)
            self.send("Log.enable", session=session)
            self.send("Page.navigate", {"url": Path(page).resolve().as_uri()}, session=session)
            self._wait_for("Page.loadEventFired", session)
            result = self.send("Runtime.evaluate", {"expression": SEEN, "returnByValue": True}, session=session)
            seen = json.loads(result["result"]["value"])
            seen["violations"] = [e["params"]["entry"]["text"] for e in self._events
                                  if e.get("sessionId") == session and e.get("method") == "Log.entryAdded"
                                  and "Content Security Policy" in e["params"]["entry"]["text"]]
            return seen
        finally:
            self.send("Target.closeTarget", {"targetId": target})
