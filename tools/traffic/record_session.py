#!/usr/bin/env python3
"""Record a real XMPP client session, byte for byte, as JSON Lines.

Starts a throwaway Prosody in a temporary directory (c2s on a free port on
127.0.0.1 only, s2s off, no TLS), creates three accounts with prosodyctl, and
drives four slixmpp clients through a recording TCP proxy that keeps every
chunk read from either socket, with its TCP read boundaries.  See README.md
in this directory for the prerequisites and the output format.

    python tools/traffic/record_session.py --out /tmp/session.jsonl

Only loopback addresses are ever used.  Prosody is stopped and the temporary
directory removed at the end, also on errors; every wait is bounded.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as _dt
import json
import logging
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "prosody.cfg.lua.in"
LOOPBACK = "127.0.0.1"

DOMAIN = "localhost"
MUC = "conference.localhost"
ROOM = f"balcony@{MUC}"
ACCOUNTS = {
    "romeo": "r0meo-Montague",
    "juliet": "juliet&capulet<3",
    "nurse": "nurse's \"secret\"",
}

# Modules we would like; only those present in the installed Prosody are loaded.
WANTED_MODULES = [
    "roster", "saslauth", "disco", "carbons", "pep", "mam", "smacks", "ping",
    "vcard_legacy", "version", "time", "uptime", "private", "blocklist",
    "bookmarks", "csi_simple", "posix",
]
WANTED_MUC_MODULES = ["muc_mam"]

STEP_TIMEOUT = 10.0       # seconds, any single protocol step
SCENARIO_TIMEOUT = 60.0   # seconds, the whole client scenario
PROSODY_START_TIMEOUT = 15.0
SUBPROCESS_TIMEOUT = 30.0

log = logging.getLogger("record_session")


# --------------------------------------------------------------------------
# recording proxy
# --------------------------------------------------------------------------

class Recorder:
    """Collects (conn, dir, t, bytes) in the order the event loop saw them."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.chunks: list[tuple[int, str, float, bytes]] = []
        self.next_conn = 1
        self.open_conns = 0
        self.total = 0  # bytes recorded, both directions

    def new_conn(self) -> int:
        cid = self.next_conn
        self.next_conn += 1
        return cid

    def add(self, conn: int, direction: str, data: bytes) -> None:
        self.chunks.append((conn, direction, time.monotonic() - self.t0, bytes(data)))
        self.total += len(data)


class _Upstream(asyncio.Protocol):
    """Proxy -> Prosody side of one connection."""

    def __init__(self, down: _Downstream) -> None:
        self.down = down
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport):  # type: ignore[override]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.down.rec.add(self.down.cid, "s2c", data)
        if self.down.transport is not None and not self.down.transport.is_closing():
            self.down.transport.write(data)

    def eof_received(self):
        self.down.s_eof = True
        t = self.down.transport
        if t is not None and not t.is_closing() and t.can_write_eof():
            t.write_eof()
        self.down.maybe_close()
        return True  # half-close: the client may still have something to say

    def connection_lost(self, exc) -> None:
        if self.down.transport is not None:
            self.down.transport.close()


class _Downstream(asyncio.Protocol):
    """Client -> proxy side of one connection (accepted socket)."""

    def __init__(self, rec: Recorder, upstream_port: int) -> None:
        self.rec = rec
        self.upstream_port = upstream_port
        self.cid = 0
        self.transport: asyncio.Transport | None = None
        self.up: asyncio.Transport | None = None
        self.pending: list[bytes] = []
        self.eof_pending = False
        self.c_eof = False   # client half-closed
        self.s_eof = False   # server half-closed
        self.task: asyncio.Task | None = None

    def maybe_close(self) -> None:
        """Both directions ended: close both sockets."""
        if self.c_eof and self.s_eof:
            if self.transport is not None:
                self.transport.close()
            if self.up is not None:
                self.up.close()

    def connection_made(self, transport):  # type: ignore[override]
        self.transport = transport
        self.cid = self.rec.new_conn()
        self.rec.open_conns += 1
        self.task = asyncio.ensure_future(self._connect_upstream())

    async def _connect_upstream(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            up, _ = await asyncio.wait_for(
                loop.create_connection(lambda: _Upstream(self), LOOPBACK, self.upstream_port),
                STEP_TIMEOUT)
        except Exception as exc:  # noqa: BLE001
            log.error("proxy: cannot reach Prosody: %s", exc)
            if self.transport is not None:
                self.transport.close()
            return
        self.up = up
        for d in self.pending:
            up.write(d)
        self.pending.clear()
        if self.eof_pending and up.can_write_eof():
            up.write_eof()
        if self.transport is None or self.transport.is_closing():
            up.close()

    def data_received(self, data: bytes) -> None:
        self.rec.add(self.cid, "c2s", data)
        if self.up is not None:
            self.up.write(data)
        else:
            self.pending.append(bytes(data))

    def eof_received(self):
        self.c_eof = True
        if self.up is not None:
            if not self.up.is_closing() and self.up.can_write_eof():
                self.up.write_eof()
        else:
            self.eof_pending = True
        self.maybe_close()
        return True

    def connection_lost(self, exc) -> None:
        self.rec.open_conns -= 1
        if self.up is not None:
            self.up.close()


async def start_proxy(rec: Recorder, upstream_port: int) -> asyncio.AbstractServer:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: _Downstream(rec, upstream_port), LOOPBACK, 0)


# --------------------------------------------------------------------------
# Prosody
# --------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def lua_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def module_dirs() -> list[Path]:
    return [Path("/usr/lib/prosody/modules"), Path("/usr/local/lib/prosody/modules")]


def module_available(name: str) -> bool:
    for d in module_dirs():
        if (d / f"mod_{name}.lua").exists() or (d / name).is_dir() or (d / f"mod_{name}").is_dir():
            return True
    return False


class Prosody:
    """A throwaway Prosody instance living in one temporary directory."""

    def __init__(self, tmpdir: Path, port: int, loglevel: str = "debug", *,
                 modules: list[str] = WANTED_MODULES, muc_modules: list[str] = WANTED_MUC_MODULES,
                 authentication: str = "internal_hashed", allow_registration: bool = False,
                 extra_global: str = "", extra_components: str = "") -> None:
        self.tmpdir = tmpdir
        self.port = port
        self.loglevel = loglevel
        self.cfg = tmpdir / "prosody.cfg.lua"
        self.logfile = tmpdir / "prosody.log"
        self.proc: subprocess.Popen | None = None
        self.prosody = shutil.which("prosody")
        self.prosodyctl = shutil.which("prosodyctl")
        if not self.prosody or not self.prosodyctl:
            raise SystemExit("prosody/prosodyctl not found: apt-get install prosody (see tools/traffic/README.md)")
        # Prosody refuses to run as root (mod_posix); when we are root, run it as
        # the 'prosody' system user created by the Debian package.
        self.user: str | None = None
        self.run_as_root = False
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("prosody")
                self.user = "prosody"
            except KeyError:
                self.run_as_root = True
        self.authentication = authentication
        self.allow_registration = allow_registration
        self.extra_global = extra_global
        self.extra_components = extra_components
        self.modules = [m for m in modules if module_available(m)]
        self.missing_modules = [m for m in modules if m not in self.modules]
        self.muc_modules = [m for m in muc_modules if module_available(m)]
        self.missing_modules += [m for m in muc_modules if m not in self.muc_modules]

    # -- helpers ---------------------------------------------------------
    def _popen_kwargs(self) -> dict[str, Any]:
        env = dict(os.environ)
        env["HOME"] = str(self.tmpdir)
        kw: dict[str, Any] = {"env": env, "cwd": str(self.tmpdir), "stdin": subprocess.DEVNULL}
        if self.user:
            pw = pwd.getpwnam(self.user)
            kw.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        return kw

    def _chown(self) -> None:
        if not self.user:
            return
        pw = pwd.getpwnam(self.user)
        for root, dirs, files in os.walk(self.tmpdir):
            os.chown(root, pw.pw_uid, pw.pw_gid)
            for n in dirs + files:
                os.chown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)

    def write_config(self) -> None:
        text = TEMPLATE.read_text(encoding="utf-8")
        (self.tmpdir / "data").mkdir(exist_ok=True)
        repl = {
            "@TMPDIR@": str(self.tmpdir),
            "@PORT@": str(self.port),
            "@LOGLEVEL@": self.loglevel,
            "@RUN_AS_ROOT@": "true" if self.run_as_root else "false",
            "@DOMAIN@": DOMAIN,
            "@MUC@": MUC,
            "@MODULES@": ", ".join(lua_str(m) for m in self.modules),
            "@MUC_MODULES@": ", ".join(lua_str(m) for m in self.muc_modules),
            "@AUTH@": self.authentication,
            "@ALLOW_REGISTRATION@": "true" if self.allow_registration else "false",
            "@EXTRA_GLOBAL@": self.extra_global,
            "@EXTRA_COMPONENTS@": self.extra_components,
        }
        for k, v in repl.items():
            text = text.replace(k, v)
        (self.tmpdir / "data").mkdir(exist_ok=True)
        (self.tmpdir / "certs").mkdir(exist_ok=True)
        self.cfg.write_text(text, encoding="utf-8")
        self._chown()

    def ctl(self, *args: str, timeout: float = SUBPROCESS_TIMEOUT) -> subprocess.CompletedProcess:
        cmd = [self.prosodyctl, "--config", str(self.cfg), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              **self._popen_kwargs())

    def version(self) -> str:
        # NB: `prosody --version` is not an option in 0.12: it *starts the server*.
        try:
            out = self.ctl("about", timeout=15).stdout
            m = re.search(r"^Prosody (\S+)", out, re.M)
            if m:
                return m.group(1)
        except (subprocess.SubprocessError, OSError):
            pass
        for d in ("/usr/lib/prosody", "/usr/local/lib/prosody"):
            p = Path(d) / "prosody.version"
            if p.exists():
                return p.read_text().strip()
        return "unknown"

    def register(self, user: str, password: str) -> None:
        r = self.ctl("register", user, DOMAIN, password)
        if r.returncode != 0:
            raise RuntimeError(f"prosodyctl register {user} failed: {r.stdout}{r.stderr}")

    def start(self) -> None:
        out = open(self.tmpdir / "prosody.stdout", "wb")
        try:
            self.proc = subprocess.Popen([self.prosody, "-F", "--config", str(self.cfg)],
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True, **self._popen_kwargs())
        finally:
            out.close()
        deadline = time.monotonic() + PROSODY_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("Prosody exited at startup:\n" + self.tail())
            if self.logfile.exists() and "Activated service 'c2s'" in self.logfile.read_text(errors="replace"):
                return
            time.sleep(0.05)
        raise RuntimeError(f"Prosody did not start within {PROSODY_START_TIMEOUT:.0f} s:\n{self.tail()}")

    def tail(self, n: int = 30) -> str:
        parts = []
        for p in (self.tmpdir / "prosody.stdout", self.logfile):
            if p.exists():
                parts.extend(p.read_text(errors="replace").splitlines()[-n:])
        return "\n".join(parts)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        pids = {proc.pid}
        try:
            pids.add(int((self.tmpdir / "prosody.pid").read_text().strip()))
        except (OSError, ValueError):
            pass
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        for pid in pids - {proc.pid}:  # the pidfile only ever names our own child
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


# --------------------------------------------------------------------------
# clients
# --------------------------------------------------------------------------

PLUGINS = [
    "xep_0030",  # service discovery
    "xep_0115",  # entity capabilities
    "xep_0199",  # ping
    "xep_0184",  # receipts
    "xep_0085",  # chat states
    "xep_0045",  # MUC
    "xep_0004", "xep_0059", "xep_0297",
    "xep_0060", "xep_0163",  # pubsub / PEP
    "xep_0107",  # user mood
    "xep_0118",  # user tune
    "xep_0084",  # user avatar
    "xep_0054",  # vcard-temp
    "xep_0153",  # vcard-based avatars
    "xep_0280",  # carbons
    "xep_0313",  # MAM
    "xep_0198",  # stream management
    "xep_0092",  # software version
    "xep_0352",  # client state indication
    "xep_0191",  # blocking command
]


def make_client(jid: str, password: str, keepalive: int | None = None, cls: Any = None):
    """A slixmpp client for the loopback server (cls: a ClientXMPP subclass, e.g. xmppbin's link client)."""
    import slixmpp

    c = (cls or slixmpp.ClientXMPP)(jid, password)
    # plaintext on loopback: no direct TLS, no STARTTLS, SCRAM over the clear stream
    c.enable_direct_tls = False
    c.enable_starttls = False
    c.enable_plaintext = True
    c.use_ipv6 = False
    if keepalive:
        c.whitespace_keepalive_interval = keepalive
    for p in PLUGINS:
        c.register_plugin(p)
    c.plugin["feature_mechanisms"].unencrypted_scram = True
    c.plugin["xep_0198"].window = 5
    c.plugin["xep_0198"].allow_resume = True
    c.plugin["xep_0092"].software_name = "xmppbin-capture"
    c.plugin["xep_0092"].version = "1"
    return c


class Scenario:
    #: the client class of connect() (None: slixmpp.ClientXMPP)
    client_class: Any = None

    def __init__(self, proxy_port: int, rec: Recorder) -> None:
        self.port = proxy_port
        self.rec = rec
        self.results: dict[str, str] = {}
        self.connections: dict[str, str] = {}
        self.clients: list[Any] = []

    # -- utilities ---------------------------------------------------------
    async def step(self, name: str, coro_fn: Callable[[], Any], timeout: float = STEP_TIMEOUT) -> Any:
        try:
            r = await asyncio.wait_for(coro_fn(), timeout)
            self.results[name] = "ok"
            log.info("step %-28s ok", name)
            return r
        except Exception as exc:  # noqa: BLE001  (record and go on)
            msg = f"{type(exc).__name__}: {exc}".strip()
            if hasattr(exc, "iq"):
                try:
                    msg = f"{type(exc).__name__}: {exc.iq['error']['condition']} {exc.iq['error']['text']}".strip()
                except Exception:  # noqa: BLE001
                    pass
            self.results[name] = "failed: " + msg[:200]
            log.warning("step %-28s FAILED %s", name, msg[:200])
            log.debug("step %s", name, exc_info=True)
            return None

    @staticmethod
    async def until(pred: Callable[[], bool], timeout: float = STEP_TIMEOUT, every: float = 0.02) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise asyncio.TimeoutError("condition not met")
            await asyncio.sleep(every)

    @staticmethod
    def waiter(client, event: str, pred: Callable[[Any], bool] = lambda _e: True) -> asyncio.Future:
        """A future resolved by the next `event` on `client` that satisfies pred."""
        fut: asyncio.Future = asyncio.get_running_loop().create_future()

        def handler(ev):
            if not fut.done() and pred(ev):
                fut.set_result(ev)

        client.add_event_handler(event, handler)
        fut.add_done_callback(lambda _f: client.del_event_handler(event, handler))
        return fut

    async def settle(self, t: float = 0.25) -> None:
        await asyncio.sleep(t)

    async def connect(self, label: str, jid: str, keepalive: int | None = None):
        c = make_client(jid, ACCOUNTS[jid.split("@")[0]], keepalive, self.client_class)
        started = self.waiter(c, "session_start")
        failed = self.waiter(c, "failed_auth")
        self.connections[str(self.rec.next_conn)] = jid
        c.connect(LOOPBACK, self.port)
        done, _ = await asyncio.wait({started, failed}, timeout=STEP_TIMEOUT,
                                     return_when=asyncio.FIRST_COMPLETED)
        for f in (started, failed):
            if not f.done():
                f.cancel()
        if started not in done:
            raise RuntimeError(f"{label}: no session_start ({'auth failed' if failed in done else 'timeout'})")
        self.clients.append(c)
        c.label = label  # type: ignore[attr-defined]
        return c

    # -- the session ---------------------------------------------------------
    async def run(self) -> None:
        # Clients that ack everything automatically (receipts, subscriptions).
        romeo = await self.connect("romeo", f"romeo@{DOMAIN}/orchard", keepalive=2)
        await self.step("roster-get romeo", lambda: romeo.get_roster(timeout=STEP_TIMEOUT))
        romeo.send_presence(pstatus="Under the balcony", ppriority=5)

        juliet = await self.connect("juliet", f"juliet@{DOMAIN}/balcony")
        await self.step("roster-get juliet", lambda: juliet.get_roster(timeout=STEP_TIMEOUT))
        juliet.send_presence(pshow="chat", pstatus="O Romeo, Romeo! 🌹", ppriority=10)
        await self.step("carbons juliet", lambda: juliet.plugin["xep_0280"].enable(timeout=STEP_TIMEOUT))

        phone = await self.connect("juliet-phone", f"juliet@{DOMAIN}/phone")
        await self.step("roster-get phone", lambda: phone.get_roster(timeout=STEP_TIMEOUT))
        phone.send_presence(pshow="away", pstatus="on the phone", ppriority=0)
        await self.step("carbons phone", lambda: phone.plugin["xep_0280"].enable(timeout=STEP_TIMEOUT))

        nurse = await self.connect("nurse", f"nurse@{DOMAIN}/chamber")
        await self.step("roster-get nurse", lambda: nurse.get_roster(timeout=STEP_TIMEOUT))
        nurse.send_presence()
        await self.settle()

        # -- roster: subscription handshake both ways, then a roster set (push)
        async def subscribe():
            romeo.send_presence_subscription(pto=f"juliet@{DOMAIN}", ptype="subscribe",
                                             pnick="Romeo")

            def both(c, other):
                return c.client_roster.has_jid(other) and \
                    c.client_roster[other]["subscription"] == "both"
            await self.until(lambda: both(romeo, f"juliet@{DOMAIN}") and both(juliet, f"romeo@{DOMAIN}"))
        await self.step("subscription romeo<->juliet", subscribe)

        async def nurse_sub():
            nurse.send_presence_subscription(pto=f"juliet@{DOMAIN}", ptype="subscribe")
            await self.until(lambda: nurse.client_roster.has_jid(f"juliet@{DOMAIN}") and
                             nurse.client_roster[f"juliet@{DOMAIN}"]["subscription"] in ("to", "both"))
        await self.step("subscription nurse->juliet", nurse_sub)

        await self.step("roster-set romeo", lambda: romeo.update_roster(
            f"juliet@{DOMAIN}", name="Juliet Capulet", groups=["Verona", "Capulets & friends"],
            timeout=STEP_TIMEOUT))
        await self.settle(0.5)  # caps disco#info round trips triggered by presences

        # -- disco, version, ping
        disco = romeo.plugin["xep_0030"]
        await self.step("disco#info server", lambda: disco.get_info(jid=DOMAIN, timeout=STEP_TIMEOUT))
        await self.step("disco#items server", lambda: disco.get_items(jid=DOMAIN, timeout=STEP_TIMEOUT))
        await self.step("disco#info muc", lambda: romeo.plugin["xep_0030"].get_info(jid=MUC, timeout=STEP_TIMEOUT))
        await self.step("disco#items muc", lambda: juliet.plugin["xep_0030"].get_items(jid=MUC, timeout=STEP_TIMEOUT))
        await self.step("disco#info own account", lambda: juliet.plugin["xep_0030"].get_info(
            jid=f"juliet@{DOMAIN}", timeout=STEP_TIMEOUT))
        await self.step("disco#info juliet full", lambda: romeo.plugin["xep_0030"].get_info(
            jid=juliet.boundjid.full, cached=False, timeout=STEP_TIMEOUT))
        await self.step("disco#info romeo full", lambda: juliet.plugin["xep_0030"].get_info(
            jid=romeo.boundjid.full, cached=False, timeout=STEP_TIMEOUT))
        await self.step("disco#items romeo full", lambda: juliet.plugin["xep_0030"].get_items(
            jid=romeo.boundjid.full, timeout=STEP_TIMEOUT))
        await self.step("version server", lambda: juliet.plugin["xep_0092"].get_version(DOMAIN, timeout=STEP_TIMEOUT))
        await self.step("version romeo", lambda: juliet.plugin["xep_0092"].get_version(
            romeo.boundjid.full, timeout=STEP_TIMEOUT))

        async def ping_error():
            from slixmpp.exceptions import IqError
            try:
                await romeo.plugin["xep_0199"].send_ping(f"juliet@{DOMAIN}/nowhere", timeout=STEP_TIMEOUT)
            except IqError:
                return  # the expected <iq type='error'> (service-unavailable)
            raise RuntimeError("no error for a ping to an absent resource")
        await self.step("ping absent resource (error)", ping_error)
        await self.step("blocklist", lambda: self.blocklist(nurse))
        await self.step("ping server", lambda: romeo.plugin["xep_0199"].ping(jid=DOMAIN, timeout=STEP_TIMEOUT))
        await self.step("ping romeo full", lambda: juliet.plugin["xep_0199"].ping(jid=romeo.boundjid.full,
                                                                           timeout=STEP_TIMEOUT))

        # -- one-to-one chat with receipts and chat states, carbons to the phone
        await self.step("chat", lambda: self.chat(romeo, juliet, phone), timeout=20)

        # -- client state indication (nonzas), an explicit SM ack request
        async def csi():
            phone.plugin["xep_0352"].send_inactive()
            await self.settle(0.2)
            phone.plugin["xep_0352"].send_active()
        await self.step("csi phone", csi)

        async def sm_r():
            romeo.plugin["xep_0198"].request_ack()
            await self.settle(0.2)
        await self.step("sm explicit <r/>", sm_r)

        # -- vCard
        async def vcard_publish():
            vc = romeo.plugin["xep_0054"].make_vcard()
            vc["FN"] = "Romeo Montague"
            vc["NICKNAME"] = "Romeo"
            vc["URL"] = "https://montague.example/?a=1&b=2"
            vc["DESC"] = "Son of Lord Montague. <he> says: \"what's in a name?\""
            vc["BDAY"] = "1597-07-31"
            await romeo.plugin["xep_0054"].publish_vcard(vc, timeout=STEP_TIMEOUT)
        await self.step("vcard publish romeo", vcard_publish)
        await self.step("vcard fetch romeo", lambda: juliet.plugin["xep_0054"].get_vcard(
            f"romeo@{DOMAIN}", local=False, cached=False, timeout=STEP_TIMEOUT))
        await self.step("vcard fetch own", lambda: nurse.plugin["xep_0054"].get_vcard(
            f"nurse@{DOMAIN}", local=False, cached=False, timeout=STEP_TIMEOUT))

        # -- PEP: mood, tune, avatar (data a few KB + metadata)
        await self.step("pep mood", lambda: romeo.plugin["xep_0107"].publish_mood(
            "in_love", "Did my heart love till now? <forswear it, sight!> & 'tis true", timeout=STEP_TIMEOUT))
        await self.step("pep tune", lambda: romeo.plugin["xep_0118"].publish_tune(
            artist="Nino Rota", title="What Is a Youth? (Love Theme)", source="Romeo & Juliet (1968)",
            length=192, track="3", timeout=STEP_TIMEOUT))
        avatar = fake_png(2600)
        avatar_id = romeo.plugin["xep_0084"].generate_id(avatar)
        avatars = romeo.plugin["xep_0084"]
        await self.step("pep avatar data", lambda: avatars.publish_avatar(avatar, timeout=STEP_TIMEOUT))
        await self.step("pep avatar metadata", lambda: romeo.plugin["xep_0084"].publish_avatar_metadata(
            [{"id": avatar_id, "type": "image/png", "bytes": str(len(avatar)), "width": "32", "height": "32"}],
            timeout=STEP_TIMEOUT))
        await self.step("pep avatar fetch", lambda: juliet.plugin["xep_0084"].retrieve_avatar(
            f"romeo@{DOMAIN}", avatar_id, timeout=STEP_TIMEOUT))
        await self.settle(0.3)

        # -- MUC
        await self.step("muc", lambda: self.muc(romeo, juliet, nurse), timeout=25)

        # -- MAM
        await self.step("mam query juliet", lambda: juliet.plugin["xep_0313"].retrieve(
            with_jid=f"romeo@{DOMAIN}", rsm={"max": 4}, timeout=STEP_TIMEOUT))
        await self.step("mam query romeo (all)", lambda: romeo.plugin["xep_0313"].retrieve(
            rsm={"max": 3}, reverse=False, timeout=STEP_TIMEOUT))
        await self.step("mam query room", lambda: nurse.plugin["xep_0313"].retrieve(
            jid=ROOM, rsm={"max": 3}, timeout=STEP_TIMEOUT))

        # a last ping so that whitespace keepalives and acks get a chance
        await self.step("ping server again", lambda: nurse.plugin["xep_0199"].ping(jid=DOMAIN, timeout=STEP_TIMEOUT))

        # -- clean disconnects: </stream:stream> both ways (two clients say goodbye first)
        nurse.send_presence(ptype="unavailable", pstatus="Anon, anon!")
        romeo.send_presence(ptype="unavailable", pstatus="Good night")
        await self.settle(0.2)
        for c in (nurse, phone, juliet, romeo):
            await self.step(f"disconnect {c.label}", lambda c=c: self.disconnect(c))

    async def blocklist(self, c) -> None:
        bl = c.plugin["xep_0191"]
        await bl.get_blocked(timeout=STEP_TIMEOUT)
        await bl.block([f"tybalt@{DOMAIN}"], timeout=STEP_TIMEOUT)
        await bl.unblock([f"tybalt@{DOMAIN}"], timeout=STEP_TIMEOUT)

    async def disconnect(self, c) -> None:
        fut = self.waiter(c, "disconnected")
        c.disconnect(wait=3)
        try:
            await asyncio.wait_for(fut, 5)
        finally:
            if not fut.done():
                fut.cancel()
                c.abort()

    async def chat(self, romeo, juliet, phone) -> None:
        rj = f"juliet@{DOMAIN}"
        lines_r = [
            "But soft! What light through yonder window breaks? ☀️",
            "Tom & Jerry say <3, \"hi\" & 'bye' > all",
            "Ромео, ромео — 羅密歐與茱麗葉 💕 ma chère",
        ]
        lines_j = [
            "Wherefore art thou Romeo? 🌹",
            "What's in a name? <That which we call a rose> & by any other \"name\"…",
        ]
        # chat states before the first message
        m = romeo.make_message(mto=rj, mtype="chat")
        m["chat_state"] = "composing"
        m.send()
        await self.settle(0.1)
        receipts: list[str] = []
        romeo.add_event_handler("receipt_received", lambda msg: receipts.append(msg["receipt"]))
        juliet.add_event_handler("receipt_received", lambda msg: receipts.append(msg["receipt"]))
        sent_ids = []
        for i, line in enumerate(lines_r):
            m = romeo.make_message(mto=rj, mbody=line, mtype="chat")
            m["chat_state"] = "active"
            m["request_receipt"] = True
            if i == 0:
                m["thread"] = "balcony-scene-2"
            m.send()
            sent_ids.append(m["id"])
            await self.settle(0.15)
        # juliet types, pauses, answers to romeo's full JID
        for state in ("composing", "paused", "composing"):
            m = juliet.make_message(mto=romeo.boundjid.full, mtype="chat")
            m["chat_state"] = state
            m.send()
            await self.settle(0.08)
        for line in lines_j:
            m = juliet.make_message(mto=romeo.boundjid.full, mbody=line, mtype="chat")
            m["chat_state"] = "active"
            m["request_receipt"] = True
            m["thread"] = "balcony-scene-2"
            m.send()
            sent_ids.append(m["id"])
            await self.settle(0.15)
        # a reply from the phone (sent carbon to juliet/balcony)
        m = phone.make_message(mto=f"romeo@{DOMAIN}", mbody="Good night, good night! 🌙 Parting is such sweet sorrow",
                               mtype="chat")
        m["request_receipt"] = True
        m["chat_state"] = "active"
        m.send()
        sent_ids.append(m["id"])
        m = romeo.make_message(mto=rj, mtype="chat")
        m["chat_state"] = "gone"
        m.send()
        await self.until(lambda: len(set(sent_ids) & set(receipts)) >= len(sent_ids) - 1, timeout=8)

    async def muc(self, romeo, juliet, nurse) -> None:
        muc_r = romeo.plugin["xep_0045"]
        # romeo creates the room (status 201); Prosody locks it until it is configured
        pres, _subject, _occ, _hist = await muc_r.join_muc_wait(ROOM, "Romeo", maxstanzas=0,
                                                                timeout=STEP_TIMEOUT)
        if 201 in {int(c) for c in pres["muc"]["status_codes"]}:
            async def configure():
                form = await muc_r.get_room_config(ROOM, timeout=STEP_TIMEOUT)
                fields = form.get_fields()
                values = {
                    "muc#roomconfig_roomname": "Capulet orchard",
                    "muc#roomconfig_roomdesc": "Two households, both alike in dignity",
                    "muc#roomconfig_persistentroom": True,
                    "muc#roomconfig_whois": "anyone",
                    "muc#roomconfig_enablearchiving": True,
                }
                for var in list(fields):
                    if var in values:
                        fields[var].set_value(values[var])
                await muc_r.set_room_config(ROOM, form, timeout=STEP_TIMEOUT)
            await self.step("muc configure room", configure)

        # subject and a first message before the others join: they get them as history
        got_subject = self.waiter(romeo, "groupchat_subject", lambda m: m["subject"] != "")
        muc_r.set_subject(ROOM, "Wherefore art thou? — act II, scene 2 <balcony> & \"orchard\"")
        await asyncio.wait_for(got_subject, STEP_TIMEOUT)
        first = "With love's light wings did I o'erperch these walls 🕊️"
        fut = self.waiter(romeo, "groupchat_message", lambda m: m["body"] == first)
        romeo.send_message(mto=ROOM, mbody=first, mtype="groupchat")
        await asyncio.wait_for(fut, STEP_TIMEOUT)

        for c, nick in ((juliet, "Juliet"), (nurse, "Nurse")):
            await c.plugin["xep_0045"].join_muc_wait(ROOM, nick, maxstanzas=5, timeout=STEP_TIMEOUT)
            await self.settle(0.1)

        msgs = [
            (juliet, "If they do see thee, they will murder thee!"),
            (nurse, "Madam! <knocks> & calls: \"Juliet!\""),
            (juliet, "Anon, good nurse! ✨"),
        ]
        for c, body in msgs:
            fut = self.waiter(romeo, "groupchat_message", lambda m, b=body: m["body"] == b)
            c.send_message(mto=ROOM, mbody=body, mtype="groupchat")
            await asyncio.wait_for(fut, STEP_TIMEOUT)
        # leave: nurse first with a status, then juliet, then the owner
        for c, nick, status in ((nurse, "Nurse", "I come, anon!"), (juliet, "Juliet", ""),
                                (romeo, "Romeo", "Sleep dwell upon thine eyes")):
            # (leave_muc forgets the room at once, so wait on the raw groupchat presence)
            fut = self.waiter(c, "groupchat_presence",
                              lambda p, n=nick: p["from"].resource == n and p["type"] == "unavailable")
            c.plugin["xep_0045"].leave_muc(ROOM, nick, status)
            await asyncio.wait_for(fut, STEP_TIMEOUT)


def fake_png(n: int) -> bytes:
    """A deterministic blob of n bytes that starts like a PNG (content is irrelevant)."""
    rnd = random.Random(1597)
    head = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00 \x00\x00\x00 \x08\x06\x00\x00\x00"
    return head + bytes(rnd.getrandbits(8) for _ in range(n - len(head)))


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def encode_chunk(conn: int, direction: str, t: float, data: bytes) -> dict:
    obj: dict[str, Any] = {"conn": conn, "dir": direction, "t": round(t, 6)}
    try:
        obj["data"] = data.decode("utf-8")
    except UnicodeDecodeError:
        obj["data_b64"] = base64.b64encode(data).decode("ascii")
    return obj


async def run_clients(prosody_port: int) -> tuple[Recorder, Scenario]:
    rec = Recorder()
    server = await start_proxy(rec, prosody_port)
    proxy_port = server.sockets[0].getsockname()[1]
    log.info("recording proxy on %s:%d -> %s:%d", LOOPBACK, proxy_port, LOOPBACK, prosody_port)
    sc = Scenario(proxy_port, rec)
    await play(sc, rec, server, SCENARIO_TIMEOUT)
    return rec, sc


async def play(sc, rec: Recorder, server, timeout: float) -> None:
    """Run a scenario (anything with run(), clients and results) through the recording
    proxy `server`, within `timeout` seconds; then drop its clients and close the proxy.
    A scenario that fails is recorded in sc.results["scenario"], not raised."""
    try:
        await asyncio.wait_for(sc.run(), timeout)
    except Exception as exc:  # noqa: BLE001
        sc.results["scenario"] = f"aborted: {type(exc).__name__}: {exc}"
        log.error("scenario aborted: %r", exc, exc_info=True)
    finally:
        for c in sc.clients:
            if c.transport is not None:
                c.abort()
            c.cancel_connection_attempt()
        server.close()
        # let the proxy see the closes, bounded
        deadline = time.monotonic() + 3
        while rec.open_conns > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        try:
            await asyncio.wait_for(server.wait_closed(), 2)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001
            pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output JSON Lines file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (prints its path)")
    ap.add_argument("-v", "--verbose", action="store_true", help="log slixmpp at DEBUG level")
    args = ap.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("slixmpp").setLevel(logging.DEBUG if args.verbose else logging.ERROR)

    try:
        import slixmpp
    except ImportError:
        print("slixmpp missing: pip install slixmpp (see tools/traffic/README.md)", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="xmppbin-capture-"))
    prosody: Prosody | None = None
    try:
        prosody = Prosody(tmp, free_port())
        prosody.write_config()
        version = prosody.version()
        for user, pw in ACCOUNTS.items():
            prosody.register(user, pw)
        prosody.start()
        log.info("Prosody %s on %s:%d (data in %s)", version, LOOPBACK, prosody.port, tmp)
        created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
        rec, sc = asyncio.run(run_clients(prosody.port))
        if prosody.missing_modules:
            sc.results["prosody modules missing"] = ", ".join(prosody.missing_modules)
        ok = sorted(k for k, v in sc.results.items() if v == "ok")
        failed = {k: v for k, v in sc.results.items() if v != "ok"}
        header = {
            "capture": "xmppbin-session",
            "version": 1,
            "server": f"Prosody {version}",
            "client": f"slixmpp {slixmpp.__version__}",
            "created": created,
            "note": ("Real c2s traffic on 127.0.0.1 between slixmpp clients and a throwaway Prosody "
                     "(tools/traffic/record_session.py): one line per TCP read, conn = connection "
                     "number, dir = c2s|s2c, t = seconds since start; plaintext, SCRAM-SHA-1."),
            "domain": DOMAIN,
            "connections": sc.connections,
            "steps_ok": ok,
            "steps_failed": failed,
        }
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", encoding="utf-8", newline="\n") as f:
            f.write(json.dumps(header, ensure_ascii=False) + "\n")
            for conn, d, t, data in rec.chunks:
                f.write(json.dumps(encode_chunk(conn, d, t, data), ensure_ascii=False) + "\n")
        n_c2s = sum(len(c[3]) for c in rec.chunks if c[1] == "c2s")
        n_s2c = sum(len(c[3]) for c in rec.chunks if c[1] == "s2c")
        print(f"wrote {out}: {len(rec.chunks)} chunks, {rec.next_conn - 1} connections, "
              f"c2s {n_c2s} B, s2c {n_s2c} B; {len(ok)} steps ok, {len(failed)} failed")
        for k, v in failed.items():
            print(f"  not recorded: {k}: {v}")
        return 1 if (not rec.chunks or "scenario" in failed) else 0
    finally:
        cleanup(prosody, tmp, args.keep)



def cleanup(prosody, tmp, keep: bool) -> None:
    """Stop Prosody (if it was started) and remove its directory unless asked to keep it."""
    if prosody is not None:
        try:
            prosody.stop()
        except Exception as exc:  # noqa: BLE001
            log.error("stopping Prosody: %r", exc)
    if keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    sys.exit(main())
