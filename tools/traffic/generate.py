#!/usr/bin/env python3
"""Generate realistic XMPP traffic: a throwaway Prosody, many slixmpp clients, a seeded plan.

    python -m tools.traffic --seed 1 --size 2MB --out DIR

Starts Prosody in a temporary directory (127.0.0.1 only, free ports, no TLS,
s2s off) with the modules real servers run, writes the plan's accounts and
rosters into its storage, connects the clients through the recording proxy of
record_session.py and plays rounds of the plan (plan.py) until the recorded
bytes reach --size (or --max-seconds pass).  Writes into DIR:

    capture.jsonl    one line per TCP read (format: README.md, same as tests/data/capture-session.jsonl)
    capture.pcap     the same reads as TCP segments on 127.0.0.1 (pcap.py)
    raw/NNN-c2s.bin  the byte stream of each connection direction
    raw/NNN-s2c.bin
    stanzas.jsonl    top-level elements in the xmppbin corpus format (split.py)
    stats.txt        the table of stats.py

Every wait is bounded; Prosody is stopped and its directory removed at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as _dt
import hashlib
import json
import logging
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    __package__ = "tools.traffic"  # noqa: A001

from . import record_session as rs  # noqa: E402
from .content import esc  # noqa: E402
from .plan import DOMAIN, MUC, NS_OMEMO, OTHER_DOMAINS, PROXY65, UPLOAD, Action, Plan, digest_of  # noqa: E402

log = logging.getLogger("traffic")

LOOPBACK = rs.LOOPBACK
STEP_TIMEOUT = 10.0

MODULES = [
    "roster", "saslauth", "disco", "carbons", "pep", "mam", "smacks", "ping", "vcard4", "vcard_legacy",
    "version", "time", "uptime", "lastactivity", "private", "blocklist", "bookmarks", "csi_simple", "offline",
    "register", "server_contact_info", "motd", "announce", "adhoc", "admin_adhoc", "posix",
]
MUC_MODULES = ["muc_mam"]

EXTRA_GLOBAL = """
motd_text = "Welcome to the xmppbin traffic server! Be nice. 🌍 https://localhost/rules"
contact_info = { abuse = { "mailto:abuse@localhost" }, admin = { "xmpp:admin@localhost", "mailto:admin@localhost" } }
smacks_hibernation_time = 60
max_archive_query_results = 50
proxy65_ports = { @PROXY_PORT@ }
proxy65_interfaces = { "127.0.0.1" }
"""

EXTRA_COMPONENTS = """
-- the other domains of the rosters: hosts without accounts on the same server, so that
-- contacts there cost no s2s (which is off) and no bounced errors
@OTHER_HOSTS@

Component "@UPLOAD@" "http_file_share"
	http_file_share_base_url = "https://@UPLOAD@"
	http_file_share_size_limit = 100*1024*1024
	http_file_share_daily_quota = 1024*1024*1024

Component "@PROXY65@" "proxy65"
	proxy65_address = "127.0.0.1"
"""

EXTRA_PLUGINS = ["xep_0202", "xep_0012"]  # beside record_session.PLUGINS

NS = {
    "receipts": "urn:xmpp:receipts", "chatstates": "http://jabber.org/protocol/chatstates",
    "markers": "urn:xmpp:chat-markers:0", "sid": "urn:xmpp:sid:0", "reply": "urn:xmpp:reply:0",
    "fallback": "urn:xmpp:fallback:0", "correct": "urn:xmpp:message-correct:0", "reactions": "urn:xmpp:reactions:0",
    "hints": "urn:xmpp:hints", "retract": "urn:xmpp:message-retract:1", "eme": "urn:xmpp:eme:0",
}

PREKEY = " prekey='true'"

UNITS = {"": 1, "B": 1, "KB": 1000, "K": 1000, "MB": 1000_000, "M": 1000_000, "GB": 10**9}


def parse_size(s: str) -> int:
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", s)
    if not m or m.group(2).upper() not in UNITS:
        raise argparse.ArgumentTypeError(f"bad size {s!r} (e.g. 200KB, 2MB)")
    return int(float(m.group(1)) * UNITS[m.group(2).upper()])


# --------------------------------------------------------------------------
# Prosody storage: accounts and rosters written before the server starts
# --------------------------------------------------------------------------

def lua(v: Any) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + "".join(ch if ch not in '"\\\n\r' else "\\" + {'\n': 'n', '\r': 'r'}.get(ch, ch) for ch in v) + '"'
    if isinstance(v, dict):
        return "{" + "".join(f"[{lua(k)}] = {lua(x)}; " for k, x in v.items()) + "}"
    raise TypeError(type(v))


def storage_name(s: str) -> str:
    """Prosody's datamanager file name encoding."""
    return re.sub(r"[^a-zA-Z0-9]", lambda m: f"%{ord(m.group(0)):02x}", s)


def write_storage(data: Path, plan: Plan) -> None:
    host = data / storage_name(DOMAIN)
    (host / "accounts").mkdir(parents=True, exist_ok=True)
    (host / "roster").mkdir(parents=True, exist_ok=True)
    for u in plan.users:
        (host / "accounts" / f"{storage_name(u.name)}.dat").write_text(
            "return " + lua({"password": u.password}) + ";\n", encoding="utf-8")
        roster: dict = {False: {"version": 1, "pending": {}}}
        for it in u.contacts:
            item = {"subscription": it["subscription"], "groups": {g: True for g in it["groups"]}}
            if it.get("name"):
                item["name"] = it["name"]
            if it.get("ask"):
                item["ask"] = it["ask"]
            roster[it["jid"]] = item
        (host / "roster" / f"{storage_name(u.name)}.dat").write_text(
            "return " + lua(roster) + ";\n", encoding="utf-8")


# --------------------------------------------------------------------------
# the executor
# --------------------------------------------------------------------------

def _xml(s: str):
    from slixmpp.xmlstream import ET

    return ET.fromstring(s)


class Runner(rs.Scenario):
    """Plays a Plan on real slixmpp clients (one per resource)."""

    def __init__(self, proxy_port: int, rec: rs.Recorder, plan: Plan, size: int, max_seconds: float) -> None:
        super().__init__(proxy_port, rec)
        self.plan = plan
        self.size = size
        self.max_seconds = max_seconds
        self.conns: dict[int, list[Any]] = {}   # user -> clients (first = main resource)
        self.rounds: list[list[Action]] = []
        self.counts: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        self.iq_errors: dict[str, int] = {}
        self.avatars: dict[int, tuple] = {}  # avatars changed during the run
        self.t_start = time.monotonic()

    # -- helpers ------------------------------------------------------------------
    def bytes_so_far(self) -> int:
        return self.rec.total

    def cl(self, u: int, k: int = 0):
        cs = self.conns.get(u) or []
        return cs[k % len(cs)] if cs else None

    def full(self, u: int) -> str:
        c = self.cl(u)
        return c.boundjid.full if c is not None else self.plan.users[u].jid

    def room_jid(self, ri: int) -> str:
        return self.plan.rooms[ri].jid

    def nick(self, u: int) -> str:
        return self.plan.users[u].nick

    async def try_(self, name: str, coro, timeout: float = STEP_TIMEOUT) -> Any:
        try:
            return await asyncio.wait_for(coro, timeout)
        except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
            from slixmpp.exceptions import IqError
            if isinstance(exc, IqError):  # an error answer is traffic too (item-not-found, ...)
                self.iq_errors[name] = self.iq_errors.get(name, 0) + 1
                return None
            self.failures[name] = self.failures.get(name, 0) + 1
            if self.failures[name] <= 2:
                try:
                    msg = str(exc)
                except Exception:  # noqa: BLE001 - slixmpp's IqTimeout cannot always say itself
                    msg = ""
                log.warning("%s failed: %s: %s", name, type(exc).__name__, msg[:160])
            return None

    def make(self, user: int, resource: str):
        u = self.plan.users[user]
        c = rs.make_client(f"{u.jid}/{resource}", u.password)
        for p in EXTRA_PLUGINS:
            c.register_plugin(p)
        c.plugin["xep_0092"].software_name = "xmppbin-traffic"
        c.plugin["xep_0092"].version = "0.1"
        from slixmpp.xmlstream.handler import Callback
        from slixmpp.xmlstream.matcher import MatchXPath

        def on_jingle(iq, c=c):
            iq.reply(clear=True).send()
        c.register_handler(Callback("jingle", MatchXPath("{jabber:client}iq/{urn:xmpp:jingle:1}jingle"), on_jingle))
        return c

    async def login(self, user: int) -> None:
        u = self.plan.users[user]
        for k, res in enumerate(u.resources):
            c = self.make(user, res)
            started = self.waiter(c, "session_start")
            self.connections[str(self.rec.next_conn)] = f"{u.jid}/{res}"
            c.connect(LOOPBACK, self.port)
            await asyncio.wait_for(started, STEP_TIMEOUT)
            c.label = f"{u.name}/{res}"  # type: ignore[attr-defined]
            self.clients.append(c)
            self.conns.setdefault(user, []).append(c)
            await self.try_("roster-get", c.get_roster(timeout=STEP_TIMEOUT))
            if k or user % 2 == 0:
                await self.try_("carbons", c.plugin["xep_0280"].enable(timeout=STEP_TIMEOUT))
            p = c.make_presence(ppriority=10 - 5 * k)
            if u.avatar is not None:
                h = hashlib.sha1(u.avatar[0]).hexdigest()
                p.appendxml(_xml(f"<x xmlns='vcard-temp:x:update'><photo>{h}</photo></x>"))
            p.send()
            if k:
                c.plugin["xep_0352"].send_inactive()

    async def setup(self) -> None:
        plan = self.plan
        first = [u.idx for u in plan.users if not u.late]
        for i in first:
            await self.login(i)
        await self.settle(0.3)
        # profile: vCard with photo, avatar in PEP, OMEMO device list and bundle, bookmarks
        for i in first:
            await self.profile(i)
        # rooms: owner creates and configures, members join (history for the late ones)
        for ri, _room in enumerate(plan.rooms):
            await self.try_("muc-create", self.create_room(ri), 30)
        for ri, room in enumerate(plan.rooms):
            for m in room.members:
                if m != room.owner:
                    await self.try_("muc-join", self.join(m, ri, 20), 15)

    async def profile(self, i: int) -> None:
        u = self.plan.users[i]
        c = self.cl(i)
        vc = c.plugin["xep_0054"].make_vcard()
        vc["FN"] = u.nick
        vc["NICKNAME"] = u.nick.split()[0]
        vc["JABBERID"] = u.jid
        if u.avatar is not None:
            vc["PHOTO"]["TYPE"] = u.avatar[1]
            vc["PHOTO"]["BINVAL"] = u.avatar[0]
        await self.try_("vcard-publish", c.plugin["xep_0054"].publish_vcard(vc, timeout=STEP_TIMEOUT))
        if u.avatar is not None:
            await self.pep_avatar(c, u.avatar)
        await self.pep_publish(c, "http://jabber.org/protocol/nick", "current",
                               f"<nick xmlns='http://jabber.org/protocol/nick'>{esc(u.nick)}</nick>")
        if i % 2 == 0:  # half of the people use an OMEMO client
            await self.omemo_publish(i, [u.device_id])

    async def pep_publish(self, c, node: str, item_id: str | None, payload: str, options: dict | None = None):
        opts = ""
        if options:
            fields = "".join(f"<field var='{esc(k)}'><value>{esc(str(v))}</value></field>"
                             for k, v in options.items())
            opts = ("<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
                    "<value>http://jabber.org/protocol/pubsub#publish-options</value></field>"
                    + fields + "</x></publish-options>")
        idattr = f" id='{esc(item_id)}'" if item_id else ""
        iq = c.make_iq_set()
        iq.appendxml(_xml(f"<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='{esc(node)}'>"
                          f"<item{idattr}>{payload}</item></publish>{opts}</pubsub>"))
        return await self.try_("pep-publish", iq.send(timeout=STEP_TIMEOUT))

    async def pep_avatar(self, c, image) -> None:
        data, mime, w, h = image
        h_id = hashlib.sha1(data).hexdigest()
        await self.pep_publish(c, "urn:xmpp:avatar:data", h_id,
                               f"<data xmlns='urn:xmpp:avatar:data'>{base64.b64encode(data).decode()}</data>")
        await self.pep_publish(c, "urn:xmpp:avatar:metadata", h_id,
                               f"<metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='{len(data)}' id='{h_id}' "
                               f"height='{h}' width='{w}' type='{mime}'/></metadata>")

    async def omemo_publish(self, i: int, devices: list[int]) -> None:
        c = self.cl(i)
        lst = "".join(f"<device id='{d}'/>" for d in devices)
        await self.pep_publish(c, f"{NS_OMEMO}.devicelist", "current", f"<list xmlns='{NS_OMEMO}'>{lst}</list>",
                               {"pubsub#access_model": "open"})
        # the bundle is a function of the device id (a client publishes the same one again)
        import random
        r = random.Random(devices[0])
        b = lambda n: base64.b64encode(r.getrandbits(8 * n).to_bytes(n, "big")).decode()  # noqa: E731
        pre = "".join(f"<preKeyPublic preKeyId='{k}'>{b(33)}</preKeyPublic>" for k in range(1, 101))
        await self.pep_publish(c, f"{NS_OMEMO}.bundles:{devices[0]}", "current",
                               f"<bundle xmlns='{NS_OMEMO}'><signedPreKeyPublic signedPreKeyId='1'>{b(33)}"
                               f"</signedPreKeyPublic><signedPreKeySignature>{b(64)}</signedPreKeySignature>"
                               f"<identityKey>{b(33)}</identityKey><prekeys>{pre}</prekeys></bundle>",
                               {"pubsub#access_model": "open"})

    async def create_room(self, ri: int) -> None:
        room = self.plan.rooms[ri]
        c = self.cl(room.owner)
        muc = c.plugin["xep_0045"]
        pres, *_ = await muc.join_muc_wait(room.jid, self.nick(room.owner), maxstanzas=0, timeout=STEP_TIMEOUT)
        form = await muc.get_room_config(room.jid, timeout=STEP_TIMEOUT)
        fields = form.get_fields()
        values = {
            "muc#roomconfig_roomname": room.title, "muc#roomconfig_roomdesc": room.desc,
            "muc#roomconfig_persistentroom": True, "muc#roomconfig_whois": "anyone" if ri % 2 == 0 else "moderators",
            "muc#roomconfig_enablearchiving": True, "muc#roomconfig_membersonly": False,
            "muc#roomconfig_historylength": "50", "muc#roomconfig_lang": self.plan.users[room.owner].locale[:2],
        }
        for var in list(fields):
            if var in values:
                fields[var].set_value(values[var])
        await muc.set_room_config(room.jid, form, timeout=STEP_TIMEOUT)
        if ri % 3 == 2:  # a member list
            items = "".join(f"<item affiliation='member' jid='{self.plan.users[m].jid}'/>" for m in room.members
                            if m != room.owner)
            iq = c.make_iq_set(ito=room.jid)
            iq.appendxml(_xml(f"<query xmlns='http://jabber.org/protocol/muc#admin'>{items}</query>"))
            await iq.send(timeout=STEP_TIMEOUT)
        c.plugin["xep_0045"].set_subject(room.jid, room.subject)
        for k in range(3):  # something to get as history
            body = f"{room.title} #{k + 1}"
            c.send_message(mto=room.jid, mbody=body, mtype="groupchat")

    async def join(self, u: int, ri: int, history: int) -> None:
        c = self.cl(u)
        if c is None:
            return
        await c.plugin["xep_0045"].join_muc_wait(self.room_jid(ri), self.nick(u), maxstanzas=history,
                                                 timeout=STEP_TIMEOUT)

    # -- messages ------------------------------------------------------------------------
    def message(self, c, to: str, mtype: str, a: dict, extras: list[str] = ()):
        m = c.make_message(mto=to, mtype=mtype, mbody=a.get("body"))
        m["id"] = a["id"]
        for x in extras:
            m.appendxml(_xml(x))
        m.send()

    def body_extras(self, a: dict, to_full: str) -> list[str]:
        ex = []
        if a.get("reply"):
            r = a["reply"]
            ex.append(f"<reply xmlns='{NS['reply']}' to='{esc(to_full)}' id='{r['id']}'/>")
        if a.get("preview"):
            p = a["preview"]
            ex.append("<rdf:Description xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' "
                      f"xmlns:og='https://ogp.me/ns#' rdf:about='{esc(p['url'])}'><og:title>{esc(p['title'])}"
                      f"</og:title><og:description>{esc(p['desc'])}</og:description><og:url>{esc(p['url'])}</og:url>"
                      f"<og:image>{esc(p['image'])}</og:image><og:type>website</og:type></rdf:Description>")
        ex.append(f"<origin-id xmlns='{NS['sid']}' id='{a['id']}'/>")
        return ex

    async def do_chat(self, a: dict) -> None:
        s, r = a["from"], a["to"]
        c = self.cl(s, self.plan.round_no)
        if c is None:
            return
        to = self.full(r) if a["full"] and r in self.conns else self.plan.users[r].jid
        if a["states"]:
            m = c.make_message(mto=to, mtype="chat")
            m.appendxml(_xml(f"<composing xmlns='{NS['chatstates']}'/>"))
            m.appendxml(_xml(f"<no-store xmlns='{NS['hints']}'/>"))
            m.send()
        ex = [f"<active xmlns='{NS['chatstates']}'/>", f"<markable xmlns='{NS['markers']}'/>"]
        if a["receipt"]:
            ex.insert(0, f"<request xmlns='{NS['receipts']}'/>")
        ex += self.body_extras(a, to)
        if a.get("thread"):
            ex.append(f"<thread>{a['thread']}</thread>")
        self.message(c, to, "chat", a, ex)

    async def act(self, act: Action) -> None:
        k, a = act.kind, act.args
        self.counts[k] = self.counts.get(k, 0) + 1
        plan = self.plan
        if k == "chat":
            await self.do_chat(a)
        elif k == "chat-correct":
            c = self.cl(a["from"])
            if c:
                self.message(c, plan.users[a["to"]].jid, "chat", a,
                             [f"<replace xmlns='{NS['correct']}' id='{a['replace']}'/>",
                              f"<origin-id xmlns='{NS['sid']}' id='{a['id']}'/>"])
        elif k == "react":
            c = self.cl(a["from"])
            if c:
                rs_ = "".join(f"<reaction>{e}</reaction>" for e in a["emojis"])
                self.message(c, plan.users[a["to"]].jid, "chat", {"id": a["id"]},
                             [f"<reactions xmlns='{NS['reactions']}' id='{a['ref']}'>{rs_}</reactions>",
                              f"<store xmlns='{NS['hints']}'/>"])
        elif k == "displayed":
            c = self.cl(a["from"])
            if c:
                self.message(c, plan.users[a["to"]].jid, "chat", {"id": a["id"]},
                             [f"<displayed xmlns='{NS['markers']}' id='{a['ref']}'/>"])
        elif k == "retract":
            c = self.cl(a["from"])
            if c:
                body = "This person attempted to retract a previous message, but it's unsupported by your client."
                self.message(c, plan.users[a["to"]].jid, "chat", {"id": a["id"], "body": body},
                             [f"<retract xmlns='{NS['retract']}' id='{a['ref']}'/>",
                              f"<fallback xmlns='{NS['fallback']}' for='{NS['retract']}'/>",
                              f"<store xmlns='{NS['hints']}'/>"])
        elif k == "groupchat":
            c = self.cl(a["from"])
            if c:
                room = self.room_jid(a["room"])
                to_full = f"{room}/{self.nick(a['reply']['author'])}" if a.get("reply") else room
                self.message(c, room, "groupchat", a, self.body_extras(a, to_full))
        elif k == "muc-react":
            c = self.cl(a["from"])
            if c:
                rs_ = "".join(f"<reaction>{e}</reaction>" for e in a["emojis"])
                self.message(c, self.room_jid(a["room"]), "groupchat", {"id": a["id"]},
                             [f"<reactions xmlns='{NS['reactions']}' id='{a['ref']}'>{rs_}</reactions>",
                              f"<store xmlns='{NS['hints']}'/>"])
        elif k == "muc-correct":
            c = self.cl(a["from"])
            if c:
                self.message(c, self.room_jid(a["room"]), "groupchat", a,
                             [f"<replace xmlns='{NS['correct']}' id='{a['replace']}'/>"])
        elif k == "muc-pm":
            c = self.cl(a["from"])
            if c:
                self.message(c, f"{self.room_jid(a['room'])}/{self.nick(a['to'])}", "chat", a,
                             ["<x xmlns='http://jabber.org/protocol/muc#user'/>",
                              f"<active xmlns='{NS['chatstates']}'/>"])
        elif k == "muc-subject":
            room = plan.rooms[a["room"]]
            c = self.cl(room.owner)
            if c:
                c.plugin["xep_0045"].set_subject(room.jid, a["subject"])
        elif k == "omemo":
            await self.do_omemo(a)
        elif k == "omemo-fetch":
            c = self.cl(a["from"])
            u = plan.users[a["of"]]
            if c:
                for node in (f"{NS_OMEMO}.devicelist", f"{NS_OMEMO}.bundles:{u.device_id}"):
                    iq = c.make_iq_get(ito=u.jid)
                    iq.appendxml(_xml(f"<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='{node}'"
                                      f" max_items='1'/></pubsub>"))
                    await self.try_("omemo-fetch", iq.send(timeout=STEP_TIMEOUT))
        elif k == "file":
            await self.do_file(a)
        elif k == "upload-slot":
            c = self.cl(a["from"])
            m = a["meta"]
            if c:
                iq = c.make_iq_get(ito=UPLOAD)
                iq.appendxml(_xml(f"<request xmlns='urn:xmpp:http:upload:0' filename='{esc(m['name'])}' "
                                  f"size='{min(m['size'], 90_000_000)}' content-type='{m['mime']}'/>"))
                await self.try_("upload-slot", iq.send(timeout=STEP_TIMEOUT))
        elif k == "jingle":
            await self.do_jingle(a)
        elif k == "mam":
            await self.do_mam(a)
        elif k == "disco":
            await self.do_disco(a)
        elif k == "presence":
            await self.do_presence(a)
        elif k == "pep":
            await self.do_pep(a)
        elif k == "vcard-fetch":
            c = self.cl(a["from"])
            if c:
                await self.try_("vcard-fetch", c.plugin["xep_0054"].get_vcard(
                    plan.users[a["of"]].jid, local=False, cached=False, timeout=STEP_TIMEOUT))
        elif k in ("roster-set", "roster-remove", "roster-get", "subscribe"):
            await self.do_roster(k, a)
        elif k == "muc-admin":
            await self.do_muc_admin(a)
        elif k == "blocklist":
            c = self.cl(a["user"])
            if c:
                bl = c.plugin["xep_0191"]
                await self.try_("blocklist", bl.block(a["jids"], timeout=STEP_TIMEOUT))
                await self.try_("blocklist", bl.get_blocked(timeout=STEP_TIMEOUT))
                await self.try_("blocklist", bl.unblock(a["jids"][:1], timeout=STEP_TIMEOUT))
        elif k == "muc-leave":
            c = self.cl(a["user"])
            if c:
                room = self.room_jid(a["room"])
                nick = self.nick(a["user"])
                fut = self.waiter(c, "groupchat_presence",
                                  lambda p, n=nick: p["from"].resource == n and p["type"] == "unavailable")
                c.plugin["xep_0045"].leave_muc(room, self.nick(a["user"]), a["status"])
                await self.try_("muc-leave", fut)
        elif k == "muc-join":
            await self.try_("muc-join", self.join(a["user"], a["room"], a["history"]), 15)
        elif k == "login":
            await self.try_("login", self.login(a["user"]), 30)
            if a["user"] in self.conns:
                await self.profile(a["user"])
        elif k == "sm-resume":
            await self.try_("sm-resume", self.sm_resume(a["user"]), 20)
        elif k == "ping":
            c = self.cl(a["user"])
            if c:
                await self.try_("ping", c.plugin["xep_0199"].send_ping(a["to"], timeout=STEP_TIMEOUT))
        else:
            raise ValueError(f"unknown action {k}")

    async def do_omemo(self, a: dict) -> None:
        c = self.cl(a["from"])
        if c is None:
            return
        u = self.plan.users[a["from"]]
        keys = "".join(f"<key rid='{rid}'{PREKEY if pk else ''}>{k}</key>" for rid, k, pk in a["keys"])
        self.message(c, self.plan.users[a["to"]].jid, "chat",
                     {"id": a["id"], "body": "I sent you an OMEMO encrypted message but your client doesn’t seem to "
                                             "support that. Find more information on https://conversations.im/omemo"},
                     [f"<encrypted xmlns='{NS_OMEMO}'><header sid='{u.device_id}'>{keys}<iv>{a['iv']}</iv></header>"
                      f"<payload>{a['payload']}</payload></encrypted>",
                      f"<request xmlns='{NS['receipts']}'/>", f"<markable xmlns='{NS['markers']}'/>",
                      f"<origin-id xmlns='{NS['sid']}' id='{a['id']}'/>",
                      f"<encryption xmlns='{NS['eme']}' name='OMEMO' namespace='{NS_OMEMO}'/>",
                      f"<store xmlns='{NS['hints']}'/>"])

    def file_el(self, m: dict, ns: str = "urn:xmpp:file:metadata:0") -> str:
        desc = f"<desc>{esc(m['desc'])}</desc>" if m["desc"] else ""
        dims = (f"<width>{m['width']}</width><height>{m['height']}</height>"
                if m["mime"].startswith(("image", "video")) else "")
        return (f"<file xmlns='{ns}'><media-type>{m['mime']}</media-type><name>{esc(m['name'])}</name>"
                f"<size>{m['size']}</size><date>{m['date']}</date>{dims}{desc}"
                f"<hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>{m['sha256']}</hash>"
                f"<hash xmlns='urn:xmpp:hashes:2' algo='sha3-256'>{m['sha3']}</hash>"
                f"<hash xmlns='urn:xmpp:hashes:2' algo='blake2b-256'>{m['blake2b']}</hash></file>")

    async def do_file(self, a: dict) -> None:
        c = self.cl(a["from"])
        if c is None:
            return
        m = a["meta"]
        if "room" in a:
            to, mtype = self.room_jid(a["room"]), "groupchat"
        else:
            to, mtype = self.plan.users[a["to"]].jid, "chat"
        url = esc(m["url"])
        ex = [f"<file-sharing xmlns='urn:xmpp:sfs:0' disposition='inline' id='{a['id'][:8]}'>{self.file_el(m)}"
              f"<sources><url-data xmlns='http://jabber.org/protocol/url-data' target='{url}'/></sources>"
              "</file-sharing>",
              f"<x xmlns='jabber:x:oob'><url>{url}</url></x>"]
        if a["sims"]:
            n = len(m["url"])
            ex.append(f"<reference xmlns='urn:xmpp:reference:0' type='data' begin='0' end='{n}'>"
                      "<media-sharing xmlns='urn:xmpp:sims:1'>"
                      f"{self.file_el(m, 'urn:xmpp:jingle:apps:file-transfer:5')}"
                      f"<sources><reference xmlns='urn:xmpp:reference:0' type='data' uri='{url}'/></sources>"
                      f"</media-sharing></reference>")
        ex.append(f"<origin-id xmlns='{NS['sid']}' id='{a['id']}'/>")
        self.message(c, to, mtype, {"id": a["id"], "body": m["url"]}, ex)

    async def do_jingle(self, a: dict) -> None:
        ca, cb = self.cl(a["from"]), self.cl(a["to"])
        if ca is None or cb is None:
            return
        ini, res, sid = ca.boundjid.full, cb.boundjid.full, a["sid"]
        J = "urn:xmpp:jingle:1"
        if a["media"] == "file":
            content = (f"<content creator='initiator' name='file-offer' senders='initiator'>"
                       f"<description xmlns='urn:xmpp:jingle:apps:file-transfer:5'>"
                       f"{self.file_el(a['meta'], 'urn:xmpp:jingle:apps:file-transfer:5')}</description>"
                       f"<transport xmlns='urn:xmpp:jingle:transports:s5b:1' sid='{sid[:12]}' mode='tcp'>"
                       f"<candidate cid='{sid[:8]}a' host='127.0.0.1' jid='{ini}' port='{a['ports'][0]}' "
                       f"priority='8257536' type='direct'/>"
                       f"<candidate cid='{sid[:8]}b' host='127.0.0.1' jid='{PROXY65}' port='{a['ports'][1]}' "
                       f"priority='655360' type='proxy'/></transport></content>")
        else:
            media = a["media"]
            pts = ("<payload-type id='111' name='opus' clockrate='48000' channels='2'><parameter name='minptime' "
                   "value='10'/><parameter name='useinbandfec' value='1'/>"
                   "<rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' "
                   "type='transport-cc'/></payload-type><payload-type id='0' name='PCMU' clockrate='8000'/>"
                   if media == "audio" else
                   "<payload-type id='96' name='VP8' clockrate='90000'>"
                   "<rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' "
                   "type='nack'/><rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='nack' subtype='pli'/>"
                   "</payload-type><payload-type id='98' name='VP9' clockrate='90000'/>")
            cands = "".join(f"<candidate component='1' foundation='{n + 1}' generation='0' id='{sid[:6]}{n}' "
                            f"ip='{ip}' network='0' port='{p}' priority='{2130706431 - n * 16777216}' protocol='udp' "
                            f"type='{typ}'/>" for n, (ip, p, typ) in enumerate(
                                [("127.0.0.1", a["ports"][2], "host"), ("::1", a["ports"][3], "host"),
                                 ("192.0.2.10", a["ports"][2] + 1, "srflx")]))
            content = (f"<content creator='initiator' name='0' senders='both'>"
                       f"<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='{media}'>{pts}"
                       f"<source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='{a['ssrc'][0]}'>"
                       f"<parameter name='cname' value='{a['cname']}'/></source>"
                       f"<rtcp-mux/></description>"
                       f"<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='{a['ufrag']}' pwd='{a['pwd']}'>"
                       f"<fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'>"
                       f"{a['fingerprint']}</fingerprint>{cands}</transport></content>")
            # XEP-0353 propose / proceed by message first
            self.message(ca, self.plan.users[a["to"]].jid, "chat", {"id": sid},
                         [f"<propose xmlns='urn:xmpp:jingle-message:0' id='{sid}'><description "
                          f"xmlns='urn:xmpp:jingle:apps:rtp:1' media='{media}'/></propose>",
                          f"<store xmlns='{NS['hints']}'/>"])
            self.message(cb, ini, "chat", {"id": sid + "p"},
                         [f"<proceed xmlns='urn:xmpp:jingle-message:0' id='{sid}'/>",
                          f"<store xmlns='{NS['hints']}'/>"])
        group = "" if a["media"] == "file" else \
            "<group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'><content name='0'/></group>"

        async def jiq(c, to, action, inner, who):
            iq = c.make_iq_set(ito=to)
            iq.appendxml(_xml(f"<jingle xmlns='{J}' action='{action}' {who} sid='{sid}'>{inner}</jingle>"))
            await self.try_("jingle", iq.send(timeout=STEP_TIMEOUT))
        await jiq(ca, res, "session-initiate", content + group, f"initiator='{ini}'")
        if a["accept"]:
            await jiq(cb, ini, "session-accept", content.replace("actpass", "active") + group, f"responder='{res}'")
            reason = "<reason><success/><text>Call ended</text></reason>"
        else:
            reason = "<reason><decline/></reason>"
        await jiq(ca, res, "session-terminate", reason, "")

    async def do_mam(self, a: dict) -> None:
        c = self.cl(a["from"])
        if c is None:
            return
        mam = c.plugin["xep_0313"]
        kw: dict = {}
        if a.get("room") is not None:
            kw["jid"] = self.room_jid(a["room"])
        elif a.get("with") is not None:
            kw["with_jid"] = self.plan.users[a["with"]].jid
        after = None
        for _ in range(a["pages"]):
            rsm = {"max": 50}
            if after:
                rsm["after"] = after
            iq = await self.try_("mam", mam.retrieve(rsm=rsm, timeout=STEP_TIMEOUT, **kw))
            if iq is None:
                return
            try:
                after = iq["mam_fin"]["rsm"]["last"]
                if iq["mam_fin"]["complete"] or not after:
                    return
            except Exception:  # noqa: BLE001
                return

    async def do_disco(self, a: dict) -> None:
        c = self.cl(a["from"])
        if c is None:
            return
        d = c.plugin["xep_0030"]
        peer = self.full(a["peer"])
        room = self.room_jid(a["room"])
        for w in a["what"]:
            coro = {
                "server-info": lambda: d.get_info(jid=DOMAIN, cached=False, timeout=STEP_TIMEOUT),
                "server-items": lambda: d.get_items(jid=DOMAIN, timeout=STEP_TIMEOUT),
                "muc-info": lambda: d.get_info(jid=MUC, cached=False, timeout=STEP_TIMEOUT),
                "upload-info": lambda: d.get_info(jid=UPLOAD, cached=False, timeout=STEP_TIMEOUT),
                "proxy-info": lambda: d.get_info(jid=PROXY65, cached=False, timeout=STEP_TIMEOUT),
                "peer-info": lambda: d.get_info(jid=peer, cached=False, timeout=STEP_TIMEOUT),
                "peer-items": lambda: d.get_items(jid=peer, timeout=STEP_TIMEOUT),
                "room-info": lambda: d.get_info(jid=room, cached=False, timeout=STEP_TIMEOUT),
                "room-items": lambda: d.get_items(jid=room, timeout=STEP_TIMEOUT),
                "account-info": lambda: d.get_info(jid=self.plan.users[a["peer"]].jid, cached=False,
                                                   timeout=STEP_TIMEOUT),
                "version-server": lambda: c.plugin["xep_0092"].get_version(DOMAIN, timeout=STEP_TIMEOUT),
                "version-peer": lambda: c.plugin["xep_0092"].get_version(peer, timeout=STEP_TIMEOUT),
                "time-peer": lambda: c.plugin["xep_0202"].get_entity_time(peer, timeout=STEP_TIMEOUT),
                "last-peer": lambda: c.plugin["xep_0012"].get_last_activity(
                    self.plan.users[a["peer"]].jid, timeout=STEP_TIMEOUT),
                "ping-peer": lambda: c.plugin["xep_0199"].send_ping(peer, timeout=STEP_TIMEOUT),
            }[w]
            await self.try_("disco:" + w, coro())

    async def do_presence(self, a: dict) -> None:
        cs = self.conns.get(a["user"]) or []
        if not cs:
            return
        c = cs[-1]
        if a["csi"] and len(cs) > 1:
            c.plugin["xep_0352"].send_active()
        p = c.make_presence(pshow=a["show"], pstatus=a["status"], ppriority=a["priority"])
        if a["idle"]:
            since = (_dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc)
                     + _dt.timedelta(seconds=self.plan.round_no * 61)).strftime("%Y-%m-%dT%H:%M:%SZ")
            p.appendxml(_xml(f"<idle xmlns='urn:xmpp:idle:1' since='{since}'/>"))
        avatar = self.avatars.get(a["user"], self.plan.users[a["user"]].avatar)
        if avatar is not None:
            photo = hashlib.sha1(avatar[0]).hexdigest()
            p.appendxml(_xml(f"<x xmlns='vcard-temp:x:update'><photo>{photo}</photo></x>"))
        p.send()
        if a["csi"] and len(cs) > 1:
            await asyncio.sleep(0.05)
            c.plugin["xep_0352"].send_inactive()

    async def do_pep(self, a: dict) -> None:
        c = self.cl(a["user"])
        if c is None:
            return
        w = a["what"]
        if w == "avatar":
            self.avatars[a["user"]] = a["image"]
            await self.pep_avatar(c, a["image"])
        elif w == "nick":
            await self.pep_publish(c, "http://jabber.org/protocol/nick", "current",
                                   f"<nick xmlns='http://jabber.org/protocol/nick'>{esc(a['nick'])}</nick>")
        elif w == "bookmarks":
            room = self.plan.rooms[a["room"]]
            await self.pep_publish(
                c, "urn:xmpp:bookmarks:1", room.jid,
                f"<conference xmlns='urn:xmpp:bookmarks:1' name='{esc(a['title'])}' autojoin="
                f"'{'true' if a['autojoin'] else 'false'}'><nick>{esc(a['nick'])}</nick></conference>",
                {"pubsub#persist_items": "true", "pubsub#max_items": "max", "pubsub#send_last_published_item": "never",
                 "pubsub#access_model": "whitelist"})
            iq = c.make_iq_get()
            iq.appendxml(_xml("<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
                              "<items node='urn:xmpp:bookmarks:1'/></pubsub>"))
            await self.try_("bookmarks-get", iq.send(timeout=STEP_TIMEOUT))
            iq = c.make_iq_get()
            iq.appendxml(_xml("<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>"))
            await self.try_("private-bookmarks", iq.send(timeout=STEP_TIMEOUT))
        elif w == "mood":
            await self.pep_publish(c, "http://jabber.org/protocol/mood", "current",
                                   f"<mood xmlns='http://jabber.org/protocol/mood'><{a['mood']}/>"
                                   f"<text>{esc(a['text'])}</text></mood>")
        elif w == "tune":
            await self.pep_publish(c, "http://jabber.org/protocol/tune", "current",
                                   f"<tune xmlns='http://jabber.org/protocol/tune'><artist>{esc(a['artist'])}</artist>"
                                   f"<length>{a['length']}</length><source>{esc(a['source'])}</source>"
                                   f"<title>{esc(a['title'])}</title><track>{a['track']}</track></tune>")
        elif w == "geoloc":
            await self.pep_publish(c, "http://jabber.org/protocol/geoloc", "current",
                                   f"<geoloc xmlns='http://jabber.org/protocol/geoloc' xml:lang='en'>"
                                   f"<accuracy>{a['accuracy']}</accuracy><country>{esc(a['country'])}</country>"
                                   f"<lat>{a['lat']:.6f}</lat><locality>{esc(a['locality'])}</locality>"
                                   f"<lon>{a['lon']:.6f}</lon></geoloc>")
        else:
            await self.omemo_publish(a["user"], a["devices"])

    async def do_roster(self, k: str, a: dict) -> None:
        c = self.cl(a["user"])
        if c is None:
            return
        if k == "roster-set":
            await self.try_("roster-set", c.update_roster(a["jid"], name=a["name"], groups=a["groups"],
                                                          timeout=STEP_TIMEOUT))
        elif k == "roster-remove":
            await self.try_("roster-remove", c.del_roster_item(a["jid"]))
        elif k == "roster-get":
            await self.try_("roster-get", c.get_roster(timeout=STEP_TIMEOUT))
        else:
            p = c.make_presence(pto=a["jid"], ptype="subscribe")
            p.appendxml(_xml(f"<nick xmlns='http://jabber.org/protocol/nick'>{esc(a['nick'])}</nick>"))
            p.send()

    async def do_muc_admin(self, a: dict) -> None:
        room = self.plan.rooms[a["room"]]
        c = self.cl(room.owner)
        if c is None:
            return
        if a["what"] == "config":
            await self.try_("muc-config", c.plugin["xep_0045"].get_room_config(room.jid, timeout=STEP_TIMEOUT))
            return
        if a["what"] == "members":
            for aff in ("member", "admin", "owner", "outcast"):
                iq = c.make_iq_get(ito=room.jid)
                iq.appendxml(_xml(f"<query xmlns='http://jabber.org/protocol/muc#admin'>"
                                  f"<item affiliation='{aff}'/></query>"))
                await self.try_("muc-admin", iq.send(timeout=STEP_TIMEOUT))
            return
        iq = c.make_iq_set(ito=room.jid)
        iq.appendxml(_xml(f"<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='{a['affiliation']}' "
                          f"jid='{a['jid']}'><reason>{esc(a['reason'])}</reason></item></query>"))
        await self.try_("muc-admin", iq.send(timeout=STEP_TIMEOUT))

    async def sm_resume(self, u: int) -> None:
        c = self.cl(u)
        if c is None:
            return
        resumed = self.waiter(c, "session_resumed")
        c.abort()  # as if the network dropped: no </stream:stream>
        await asyncio.sleep(0.3)
        self.connections[str(self.rec.next_conn)] = c.boundjid.full + " (resumed)"
        c.connect(LOOPBACK, self.port)
        await asyncio.wait_for(resumed, STEP_TIMEOUT)

    # -- the run -----------------------------------------------------------------------------
    async def run(self) -> None:
        await self.setup()
        while self.bytes_so_far() < self.size:
            if time.monotonic() - self.t_start > self.max_seconds:
                log.warning("time limit (%.0f s) reached at %d bytes", self.max_seconds, self.bytes_so_far())
                self.results["time limit"] = f"stopped at {self.bytes_so_far()} bytes"
                break
            acts = self.plan.next_round()
            self.rounds.append(acts)
            for act in acts:
                await self.act(act)
            await asyncio.sleep(0.03)
            if len(self.rounds) % 25 == 0:
                log.info("round %d: %d bytes", len(self.rounds), self.bytes_so_far())
        await self.settle(0.5)
        # goodbye: leave rooms with a status, unavailable, </stream:stream> both ways
        for i, cs in sorted(self.conns.items()):
            for c in cs:
                c.send_presence(ptype="unavailable", pstatus=self.plan.users[i].nick + " 👋")
        await self.settle(0.5)
        for c in list(self.clients):
            await self.step(f"disconnect {c.label}", lambda c=c: self.disconnect(c))


async def run_clients(prosody_port: int, plan: Plan, size: int, max_seconds: float):
    rec = rs.Recorder()
    server = await rs.start_proxy(rec, prosody_port)
    proxy_port = server.sockets[0].getsockname()[1]
    sc = Runner(proxy_port, rec, plan, size, max_seconds)
    await rs.play(sc, rec, server, max_seconds + 120)
    return rec, sc


def write_outputs(out: Path, header: dict, chunks: list[tuple[int, str, float, bytes]], created_epoch: float) -> None:
    from . import pcap, split, stats

    out.mkdir(parents=True, exist_ok=True)
    cap = out / "capture.jsonl"
    with open(cap, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(header, ensure_ascii=False) + "\n")
        for conn, d, t, data in chunks:
            f.write(json.dumps(rs.encode_chunk(conn, d, t, data), ensure_ascii=False) + "\n")
    raw = out / "raw"
    raw.mkdir(exist_ok=True)
    streams: dict[tuple[int, str], list[bytes]] = {}
    for conn, d, _t, data in chunks:
        streams.setdefault((conn, d), []).append(data)
    for (conn, d), parts in streams.items():
        (raw / f"{conn:03d}-{d}.bin").write_bytes(b"".join(parts))
    pcap.write_pcap(out / "capture.pcap", chunks, created_epoch)
    _, cks = split.read_capture(cap)
    with open(out / "stanzas.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for r in split.corpus_records(cks):
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    (out / "stats.txt").write_text(stats.format_table(stats.capture_stats(cap)), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.traffic", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--size", type=parse_size, default=parse_size("2MB"),
                    help="stop playing rounds once this many bytes (both directions) are recorded (default 2MB)")
    ap.add_argument("--clients", type=int, default=None,
                    help="accounts (default: 24 for sizes from 1 MB, 8 below; a few have a second resource)")
    ap.add_argument("--out", required=True, type=Path, help="output directory")
    ap.add_argument("--max-seconds", type=float, default=None,
                    help="time limit for the rounds (default: 300 s + 1 s per 20 KB of --size, "
                         "about 3.5 times what this machine needs)")
    ap.add_argument("--keep", action="store_true", help="keep Prosody's temporary directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    clients = args.clients or (24 if args.size >= 1_000_000 else 8)
    if args.max_seconds is None:
        args.max_seconds = 300.0 + args.size / 20_000

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("slixmpp").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    try:
        import faker
        import slixmpp
    except ImportError:
        print("slixmpp missing: pip install -e '.[traffic]'", file=sys.stderr)
        return 2

    plan = Plan(args.seed, clients)
    tmp = Path(tempfile.mkdtemp(prefix="xmppbin-traffic-"))
    prosody: rs.Prosody | None = None
    try:
        # (no PEP there: it would query each client's caps for every fake contact; nor the modules
        # that need it)
        other = "\n".join(f'VirtualHost "{h}"\n\tmodules_disabled = {{ "pep", "vcard_legacy", "vcard4", "bookmarks" }}'
                          for h in OTHER_DOMAINS)
        subst = {"@OTHER_HOSTS@": other, "@UPLOAD@": UPLOAD, "@PROXY65@": PROXY65, "@PROXY_PORT@": str(rs.free_port())}
        eg, ec = EXTRA_GLOBAL, EXTRA_COMPONENTS
        for k, v in subst.items():
            eg, ec = eg.replace(k, v), ec.replace(k, v)
        prosody = rs.Prosody(tmp, rs.free_port(), "info", modules=MODULES, muc_modules=MUC_MODULES,
                             authentication="internal_plain", extra_global=eg, extra_components=ec)
        prosody.write_config()
        write_storage(tmp / "data", plan)
        prosody._chown()
        version = prosody.version()
        prosody.start()
        log.info("Prosody %s on %s:%d, %d clients, seed %d, target %d bytes", version, LOOPBACK, prosody.port,
                 clients, args.seed, args.size)
        created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
        t0 = time.time()
        rec, sc = asyncio.run(run_clients(prosody.port, plan, args.size, args.max_seconds))
        header = {
            "capture": "xmppbin-session", "version": 1, "server": f"Prosody {version}",
            "client": f"slixmpp {slixmpp.__version__}", "created": created.isoformat(),
            "faker": faker.VERSION,
            "note": ("Generated c2s traffic on 127.0.0.1 between slixmpp clients and a throwaway Prosody "
                     "(tools/traffic, seeded plan): one line per TCP read, conn = connection number, "
                     "dir = c2s|s2c, t = seconds since start; plaintext, SCRAM-SHA-256."),
            "domain": DOMAIN, "generator": "tools/traffic", "seed": args.seed, "clients": clients,
            "size_target": args.size, "rounds": len(sc.rounds),
            "plan_digest": digest_of(Plan(args.seed, clients), sc.rounds),
            "actions": dict(sorted(sc.counts.items())),
            "connections": sc.connections,
            "prosody_modules": (prosody.modules + ["muc:" + m for m in prosody.muc_modules]
                                + ["http_file_share", "proxy65"]),
            "prosody_modules_missing": prosody.missing_modules,
            "iq_errors": dict(sorted(sc.iq_errors.items())),
            "steps_failed": {**{k: v for k, v in sc.results.items() if v != "ok"},
                             **{k: f"{n} times" for k, n in sc.failures.items()}},
        }
        write_outputs(args.out, header, rec.chunks, t0)
        n = sum(len(c[3]) for c in rec.chunks)
        print(f"wrote {args.out}: {len(rec.chunks)} chunks, {rec.next_conn - 1} connections, {n} bytes, "
              f"{len(sc.rounds)} rounds; failures: {header['steps_failed'] or 'none'}")
        print((args.out / "stats.txt").read_text(encoding="utf-8"))
        return 1 if (not rec.chunks or "scenario" in sc.results) else 0
    finally:
        rs.cleanup(prosody, tmp, args.keep)


if __name__ == "__main__":
    sys.exit(main())
