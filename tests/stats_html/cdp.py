"""cdp.py - drives a headless Chromium over the DevTools protocol, with
the Python standard library only: starts Debian's chromium on a fresh
profile with its debugging port on loopback, and speaks the protocol
through a minimal WebSocket client (RFC 6455: client frames masked, text
frames, fragments, ping and close). Used by the report tests.
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.request

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--remote-debugging-port=0",
         "--remote-debugging-address=127.0.0.1", "--window-size=1280,900"]


class Unavailable(Exception):
    """Chromium is not installed or does not start: a reason to skip."""


class WebSocket:
    def __init__(self, host, port, path, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key))
        self.sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("WebSocket handshake: connection closed")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError("WebSocket handshake refused: %r" % head[:80])

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("WebSocket closed by the browser")
            buf += chunk
        return buf

    def _frame(self, opcode, payload):
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + body)

    def send(self, text):
        self._frame(1, text.encode())

    def recv(self):
        """The next whole text message."""
        message = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack("!H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._exact(8))[0]
            mask = self._exact(4) if b1 & 0x80 else None
            payload = self._exact(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = b0 & 0x0f
            if opcode == 9:
                self._frame(10, payload)
                continue
            if opcode == 8:
                raise ConnectionError("WebSocket closed by the browser")
            if opcode in (0, 1):
                message += payload
                if b0 & 0x80:
                    return message.decode()

    def close(self):
        self.sock.close()


class Browser:
    """One headless Chromium with one page; every event the page sends is
    kept in self.events (method, params) in arrival order."""

    def __init__(self, workdir, timeout=30):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            raise Unavailable("chromium is not installed")
        self.timeout = timeout
        profile = os.path.join(workdir, "profile")
        os.makedirs(profile, exist_ok=True)
        port_file = os.path.join(profile, "DevToolsActivePort")
        if os.path.exists(port_file):
            os.unlink(port_file)  # left by an earlier run of this profile
        self.stderr = open(os.path.join(workdir, "chromium.log"), "wb")
        self.ws = None
        self.proc = subprocess.Popen(
            [exe] + FLAGS + ["--user-data-dir=" + profile, "about:blank"],
            stdout=self.stderr, stderr=self.stderr, stdin=subprocess.DEVNULL)
        try:
            self._connect(port_file)
        except BaseException:
            self.stop()
            raise
        self.next_id = 0
        self.events = []

    def _connect(self, port_file):
        deadline = time.time() + self.timeout
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if self.proc.poll() is not None or time.time() > deadline:
                raise Unavailable("chromium did not start (see %s)" % self.stderr.name)
            time.sleep(0.05)
        time.sleep(0.05)  # the file is written before its last line ends
        port = int(open(port_file).read().split()[0])
        pages = []
        while not pages:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port,
                                            timeout=self.timeout) as r:
                    pages = [t for t in json.load(r) if t["type"] == "page"]
            except OSError:
                pass  # not listening yet
            if not pages:
                if time.time() > deadline:
                    raise Unavailable("chromium has no page target")
                time.sleep(0.05)
        path = pages[0]["webSocketDebuggerUrl"].split("/", 3)[3]
        self.ws = WebSocket("127.0.0.1", port, "/" + path, self.timeout)

    def call(self, method, **params):
        """Sends one command and returns its result; events that arrive
        meanwhile are kept."""
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.on_event(msg["method"], msg.get("params", {}))

    def on_event(self, method, params):
        self.events.append((method, params))
        if method == "Page.javascriptDialogOpening":
            # Answered at once, or the page would stop; the test sees
            # the event.
            self.ws.send(json.dumps({"id": 0, "method": "Page.handleJavaScriptDialog",
                                     "params": {"accept": False}}))

    def wait_event(self, method, since=0, timeout=None):
        """Waits for an event of that method among self.events[since:]
        and those still to come; returns its params."""
        deadline = time.time() + (timeout or self.timeout)
        i = since
        while True:
            while i < len(self.events):
                if self.events[i][0] == method:
                    return self.events[i][1]
                i += 1
            if time.time() > deadline:
                raise TimeoutError("no %s within %s s" % (method, timeout or self.timeout))
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.on_event(msg["method"], msg.get("params", {}))

    def eval(self, expr):
        """The value of a JavaScript expression (awaited if a promise);
        an exception in the page raises here."""
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("page exception in %r: %s" % (
                expr[:60], r["exceptionDetails"].get("exception", {}).get(
                    "description", r["exceptionDetails"].get("text"))))
        return r["result"].get("value")

    def stop(self):
        if getattr(self, "ws", None):
            self.ws.close()
            self.ws = None
        if self.proc.poll() is None:
            # The browser process itself (the wrapper execs it); it takes
            # its helper processes down as it ends. It stays in the
            # caller's process group, so a test harness that kills that
            # group after a timeout ends it too.
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()
