"""The seeded plan of a generated session: users, rosters, rooms and rounds of actions.

A plan is pure data made from ``Content`` (a seeded RNG and Faker): who the
users are, their rosters, rooms, avatars, OMEMO keys, and an endless sequence of
rounds, each a list of ``Action``.  The executor (generate.py) plays the actions
on real clients; nothing in the plan depends on the network, so the content of
round k is the same for a seed whatever happens at run time, and
``plan_digest(seed, clients, rounds)`` can be checked without Prosody.
"""
from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass, field

from .content import REACTIONS, Content, esc

DOMAIN = "localhost"
MUC = "conference.localhost"
UPLOAD = "upload.localhost"
PROXY65 = "proxy.localhost"

# roster contacts elsewhere: extra VirtualHosts of the same Prosody (no s2s needed)
OTHER_DOMAINS = ["jabber.example", "chat.example.org", "xmpp.example.net", "im.example.de", "example.co.jp",
                 "spam.example"]

NS_OMEMO = "eu.siacs.conversations.axolotl"

# scenario kinds of a round and their weights (a steady mix)
ROUND_KINDS = [
    ("chat", 30), ("muc", 24), ("omemo", 7), ("file", 5), ("jingle", 4), ("mam", 5), ("disco", 6),
    ("presence", 5), ("pep", 4), ("vcard", 3), ("roster", 3), ("muc-admin", 2), ("blocklist", 1),
    ("muc-rejoin", 2), ("upload", 2),
]


@dataclass
class Action:
    kind: str
    args: dict = field(default_factory=dict)

    def as_json(self) -> str:
        return json.dumps([self.kind, self.args], ensure_ascii=False, sort_keys=True, default=_bytes_digest)


def _bytes_digest(o):
    if isinstance(o, (bytes, bytearray)):  # image bytes: their encoder may differ between Pillow builds
        return "bytes"
    raise TypeError(type(o).__name__)


@dataclass
class User:
    idx: int
    name: str           # localpart, ASCII
    password: str
    nick: str           # display name, any script
    locale: str
    resources: list[str]
    contacts: list[dict]      # roster items written to Prosody's storage
    late: bool = False        # logs in during the run (gets offline messages)
    device_id: int = 0        # OMEMO device id
    avatar: tuple | None = None  # (bytes, mime, w, h)

    @property
    def jid(self) -> str:
        return f"{self.name}@{DOMAIN}"


@dataclass
class Room:
    name: str
    title: str
    desc: str
    owner: int
    members: list[int]
    subject: str

    @property
    def jid(self) -> str:
        return f"{self.name}@{MUC}"


def _ascii(s: str) -> str:
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s.lower() if ch.isascii() and (ch.isalnum()))
    return s or "user"


class Plan:
    def __init__(self, seed: int, clients: int) -> None:
        if clients < 2:
            raise ValueError("at least 2 clients")
        self.seed = seed
        self.c = Content(seed)
        rng = self.c.rng
        self.users: list[User] = []
        for i in range(clients):
            loc = self.c.locale()
            f = self.c.faker(loc)
            nick = f.name()
            en = self.c.faker("en_US")
            name = f"{_ascii(en.first_name())}.{_ascii(en.last_name())}{i}"
            res = [rng.choice(["laptop", "desktop", "Conversations.x7Kq", "gajim.3F9A1C", "Dino.b1e2", "work"])]
            if i % 5 == 1:
                res.append(rng.choice(["phone", "Monal-iOS.a9d3", "Conversations.Zp2w"]))
            self.users.append(User(i, name, self.c.short_id(16), nick, loc, res, [],
                                   late=(clients >= 6 and i in (clients - 1, clients - 3)),
                                   device_id=rng.randint(1, 2**31 - 1)))
        n = clients
        # rosters: the team (both ways, a few each), heavy users with 200+ contacts
        team: dict[int, set[int]] = {i: set() for i in range(n)}
        for i in range(n):
            for j in rng.sample(range(n), min(n - 1, rng.randint(3, 7))):
                if j != i:
                    team[i].add(j)
                    team[j].add(i)
        groups_pool = [self.c.faker(self.c.locale()).word().capitalize() for _ in range(12)] + [
            "Family", "Work", "Friends", "家族", "同事", "Друзья", "العمل", "Projekt X", "🎮 Gaming"]
        domains = ["localhost", "localhost"] + OTHER_DOMAINS[:5]
        for u in self.users:
            items = []
            for j in sorted(team[u.idx]):
                items.append({"jid": self.users[j].jid, "name": self.users[j].nick, "subscription": "both",
                              "groups": [rng.choice(groups_pool[:4]) or "Team"]})
            extra = rng.randint(200, 320) if u.idx < max(1, n // 12) else rng.randint(8, 60)
            for k in range(extra):
                loc = self.c.locale()
                f = self.c.faker(loc)
                en = self.c.faker("en_US")
                jid = f"{_ascii(en.user_name())}{k}@{rng.choice(domains)}"
                sub = rng.choices(["both", "to", "from", "none"], [60, 15, 15, 10])[0]
                it = {"jid": jid, "subscription": sub,
                      "groups": rng.sample(groups_pool, rng.choice([0, 1, 1, 1, 2]))}
                if rng.random() < 0.85:
                    it["name"] = f.name()
                if sub in ("none", "from") and rng.random() < 0.3:
                    it["ask"] = "subscribe"
                items.append(it)
            u.contacts = items
        # rooms: one big team room (everyone), a few smaller ones
        online = [u.idx for u in self.users if not u.late]
        self.rooms: list[Room] = []
        nrooms = 1 + max(1, n // 10)
        for r in range(nrooms):
            loc = self.c.locale()
            f = self.c.faker(loc)
            members = list(online) if r == 0 else sorted(rng.sample(online, min(len(online), rng.randint(4, 10))))
            self.rooms.append(Room(f"{_ascii(self.c.faker('en_US').word())}-{r}", f.catch_phrase()
                                   if hasattr(f, "catch_phrase") else f.sentence(nb_words=3),
                                   f.sentence(), members[0], members, self.c.sentence(loc)))
        for u in self.users:
            if u.idx % 4 == 0:
                u.avatar = self.c.image()
        self.round_no = 0
        self.firsts: set[str] = set()
        self.jingles = 0
        self.first_kinds = [x for x, _ in ROUND_KINDS]
        rng.shuffle(self.first_kinds)
        self.online = set(online)
        self.history: list[tuple[str, int, str]] = []   # (where, author, msg id) to react to
        self.logins_at = {u.idx: 6 + 9 * k for k, u in enumerate(u for u in self.users if u.late)}

    # -- rounds ---------------------------------------------------------------------
    def first(self, what: str) -> bool:
        """True the first time: rare features show up in small captures too."""
        if what in self.firsts:
            return False
        self.firsts.add(what)
        return True

    def pick_user(self, exclude: set[int] = frozenset()) -> int:
        cand = sorted(self.online - set(exclude))
        return self.c.rng.choice(cand)

    def next_round(self) -> list[Action]:
        rng = self.c.rng
        k = self.round_no
        self.round_no += 1
        acts: list[Action] = []
        for u, at in self.logins_at.items():
            if at == k + 3:  # messages that wait in offline storage until the login
                for _ in range(2):
                    s = self.pick_user()
                    _, args = self._body_extras(f"chat:{min(s, u)}:{max(s, u)}")
                    args.update({"from": s, "to": u, "states": False, "receipt": True, "thread": None,
                                 "full": False})
                    acts.append(Action("chat", args))
            if at == k:
                acts.append(Action("login", {"user": u}))
                self.online.add(u)
                for room in self.rooms[:1]:
                    room.members.append(u)
                    acts.append(Action("muc-join", {"user": u, "room": 0, "history": 10}))
        if k and k % 40 == 17:
            acts.append(Action("sm-resume", {"user": self.pick_user()}))
        if k < len(self.first_kinds):  # every scenario early, so that small captures hold them all
            kind = self.first_kinds[k]
        else:
            kind = rng.choices([x for x, _ in ROUND_KINDS], [w for _, w in ROUND_KINDS])[0]
        getattr(self, "_r_" + kind.replace("-", "_"))(acts)
        if k % 10 == 9:
            acts.append(Action("ping", {"user": self.pick_user(), "to": DOMAIN}))
        del self.history[:-100]  # only the last 30 are ever looked at: memory stays flat on long runs
        return acts

    def _body_extras(self, where: str) -> tuple[str, dict]:
        """A body and the things that may go with it."""
        c, rng = self.c, self.c.rng
        body = c.chat_text()
        args: dict = {"body": body, "id": c.msg_id()}
        r = rng.random()
        prev = [h for h in self.history[-30:] if h[0] == where]
        if prev and (r < 0.15 or self.first("reply")):
            w, author, mid = rng.choice(prev)
            args["reply"] = {"id": mid, "author": author}
        if (rng.random() < 0.08 or self.first("preview")) and "://" not in body:
            url = c.url()
            args["body"] = body + " " + url
            args["preview"] = {"url": url, "title": c.sentence(), "desc": c.sentence(),
                               "image": f"https://img.example/{c.short_id(12)}.jpg"}
        return body, args

    def _r_chat(self, acts: list[Action]) -> None:
        c, rng = self.c, self.c.rng
        a = self.pick_user()
        b = rng.choice([u.idx for u in self.users if u.idx != a])  # may be offline: stored
        where = f"chat:{min(a, b)}:{max(a, b)}"
        turns = rng.randint(2, 8)
        thread = c.msg_id() if rng.random() < 0.2 else None
        last_by: dict[int, str] = {}
        for t in range(turns):
            s, r = (a, b) if t % 2 == 0 or b not in self.online else (b, a)
            _, args = self._body_extras(where)
            args.update({"from": s, "to": r, "states": rng.random() < 0.6, "receipt": True,
                         "thread": thread, "full": rng.random() < 0.3})
            acts.append(Action("chat", args))
            self.history.append((where, s, args["id"]))
            if s in last_by and (rng.random() < 0.12 or self.first("correct")):
                acts.append(Action("chat-correct", {"from": s, "to": r, "replace": last_by[s], "id": c.msg_id(),
                                                    "body": c.chat_text()}))
            last_by[s] = args["id"]
            if r in self.online and (rng.random() < 0.25 or self.first("react")):
                acts.append(Action("react", {"from": r, "to": s, "ref": args["id"], "id": c.msg_id(),
                                             "emojis": rng.sample(REACTIONS, rng.choice([1, 1, 2]))}))
            if r in self.online and rng.random() < 0.3:
                acts.append(Action("displayed", {"from": r, "to": s, "ref": args["id"], "id": c.msg_id()}))
        if rng.random() < 0.08 or self.first("retract"):
            acts.append(Action("retract", {"from": a, "to": b, "ref": last_by.get(a) or args["id"],
                                           "id": c.msg_id()}))

    def _r_muc(self, acts: list[Action]) -> None:
        c, rng = self.c, self.c.rng
        ri = rng.choices(range(len(self.rooms)), [1] + [2] * (len(self.rooms) - 1))[0]
        room = self.rooms[ri]
        where = f"muc:{ri}"
        for _ in range(rng.randint(2, 9)):
            s = rng.choice(room.members)
            _, args = self._body_extras(where)
            args.update({"from": s, "room": ri})
            acts.append(Action("groupchat", args))
            self.history.append((where, s, args["id"]))
            if rng.random() < 0.2:
                acts.append(Action("muc-react", {"from": rng.choice(room.members), "room": ri, "ref": args["id"],
                                                 "id": c.msg_id(), "emojis": rng.sample(REACTIONS, 1)}))
            if rng.random() < 0.05 or self.first("muc-correct"):
                acts.append(Action("muc-correct", {"from": s, "room": ri, "replace": args["id"], "id": c.msg_id(),
                                                   "body": c.chat_text()}))
        if (rng.random() < 0.1 or self.first("muc-pm")) and len(room.members) > 1:
            a, b = rng.sample(room.members, 2)
            acts.append(Action("muc-pm", {"from": a, "to": b, "room": ri, "id": c.msg_id(), "body": c.chat_text()}))
        if rng.random() < 0.05 or self.first("muc-subject"):
            acts.append(Action("muc-subject", {"room": ri, "subject": c.sentence()}))

    def _r_omemo(self, acts: list[Action]) -> None:
        c, rng = self.c, self.c.rng
        a = self.pick_user()
        b = rng.choice([u.idx for u in self.users if u.idx != a])
        if rng.random() < 0.3 or self.first("omemo-fetch"):
            acts.append(Action("omemo-fetch", {"from": a, "of": b}))
        for t in range(rng.randint(1, 4)):
            s, r = (a, b) if t % 2 == 0 or b not in self.online else (b, a)
            nkeys = rng.randint(2, 5)
            acts.append(Action("omemo", {"from": s, "to": r, "id": c.msg_id(),
                                         "keys": [[rng.randint(1, 2**31 - 1), c.b64(rng.choice([48, 132, 180])),
                                                   rng.random() < 0.1] for _ in range(nkeys)],
                                         "iv": c.b64(12), "payload": c.b64(rng.randint(8, 400))}))

    def _r_file(self, acts: list[Action]) -> None:
        c, rng = self.c, self.c.rng
        a = self.pick_user()
        meta = c.file_meta()
        if rng.random() < 0.5:
            b = rng.choice([u.idx for u in self.users if u.idx != a])
            acts.append(Action("file", {"from": a, "to": b, "id": c.msg_id(), "meta": meta,
                                        "sims": rng.random() < 0.4 or self.first("sims")}))
        else:
            ri = rng.randrange(len(self.rooms))
            acts.append(Action("file", {"from": rng.choice(self.rooms[ri].members), "room": ri, "id": c.msg_id(),
                                        "meta": meta, "sims": rng.random() < 0.4}))

    def _r_upload(self, acts: list[Action]) -> None:
        c = self.c
        acts.append(Action("upload-slot", {"from": self.pick_user(), "meta": c.file_meta()}))

    def _r_jingle(self, acts: list[Action]) -> None:
        c, rng = self.c, self.c.rng
        a = self.pick_user()
        b = self.pick_user({a})
        media = rng.choice(["file", "audio", "video"]) if self.jingles else "audio"  # the first: a call (JMI)
        self.jingles += 1
        args = {"from": a, "to": b, "sid": c.short_id(22), "media": media,
                "ufrag": c.short_id(4), "pwd": c.short_id(22),
                "fingerprint": ":".join(f"{x:02X}" for x in c.random_bytes(32)),
                "ssrc": [rng.randint(1, 2**32 - 1) for _ in range(2)],
                "ports": [rng.randint(20000, 60000) for _ in range(4)], "meta": c.file_meta(),
                "cname": c.short_id(16), "accept": rng.random() < 0.8}
        acts.append(Action("jingle", args))

    def _r_mam(self, acts: list[Action]) -> None:
        rng = self.c.rng
        a = self.pick_user()
        if rng.random() < 0.35:
            ri = rng.randrange(len(self.rooms))
            acts.append(Action("mam", {"from": a, "room": ri, "pages": rng.randint(1, 2)}))
        else:
            w = rng.choice([None, rng.choice([u.idx for u in self.users if u.idx != a])])
            acts.append(Action("mam", {"from": a, "with": w, "pages": rng.randint(1, 3)}))

    def _r_disco(self, acts: list[Action]) -> None:
        rng = self.c.rng
        a = self.pick_user()
        b = self.pick_user({a})
        what = ["peer-info"] + rng.sample(["server-info", "server-items", "muc-info", "upload-info", "proxy-info",
                                           "peer-items", "version-server", "version-peer", "time-peer", "last-peer",
                                           "ping-peer", "room-info", "room-items", "account-info"],
                                          rng.randint(1, 4))
        acts.append(Action("disco", {"from": a, "peer": b, "what": what, "room": rng.randrange(len(self.rooms))}))

    def _r_presence(self, acts: list[Action]) -> None:
        c, rng = self.c, self.c.rng
        a = self.pick_user()
        show = rng.choice([None, "away", "xa", "dnd", "chat"])
        acts.append(Action("presence", {"user": a, "show": show, "status": c.status() if rng.random() < 0.7 else None,
                                        "idle": rng.random() < 0.3, "priority": rng.choice([0, 1, 5, 10, 24]),
                                        "csi": rng.random() < 0.5}))

    def _r_pep(self, acts: list[Action]) -> None:
        c, rng = self.c, self.c.rng
        a = self.pick_user()
        what = rng.choice(["avatar", "nick", "bookmarks", "mood", "tune", "geoloc", "omemo-devices"])
        args: dict = {"user": a, "what": what}
        if what == "avatar":
            args["image"] = c.image()
        elif what == "nick":
            args["nick"] = self.c.faker(self.c.locale()).name()
        elif what == "bookmarks":
            ri = rng.randrange(len(self.rooms))
            args.update(room=ri, autojoin=rng.random() < 0.7, nick=self.users[a].nick, title=self.rooms[ri].title)
        elif what == "mood":
            args.update(mood=rng.choice(["happy", "tired", "excited", "curious", "sleepy", "stressed"]),
                        text=c.status())
        elif what == "tune":
            f = c.faker(c.locale())
            args.update(artist=f.name(), title=f.sentence(nb_words=3), length=rng.randint(90, 600),
                        track=str(rng.randint(1, 20)), source=f.sentence(nb_words=2))
        elif what == "geoloc":
            f = c.faker(c.locale())
            args.update(lat=float(f.latitude()), lon=float(f.longitude()), locality=f.city(),
                        country=f.country(), accuracy=rng.randint(5, 2000))
        else:
            args["devices"] = [self.users[a].device_id] + [rng.randint(1, 2**31 - 1) for _ in range(rng.randint(0, 2))]
        acts.append(Action("pep", args))

    def _r_vcard(self, acts: list[Action]) -> None:
        a = self.pick_user()
        others = [u.idx for u in self.users if u.idx != a]
        acts.append(Action("vcard-fetch", {"from": a, "of": self.c.rng.choice(others)}))

    def _r_roster(self, acts: list[Action]) -> None:
        c, rng = self.c, self.c.rng
        a = self.pick_user()
        r = rng.random()
        f = c.faker(c.locale())
        user = _ascii(c.faker('en_US').user_name())
        jid = f"{user}{rng.randint(1000, 9999)}@{rng.choice(['localhost', 'jabber.example'])}"
        if r < 0.5:
            acts.append(Action("roster-set", {"user": a, "jid": jid, "name": f.name(),
                                              "groups": [f.word().capitalize()] * rng.randint(0, 1)}))
            if rng.random() < 0.5:
                acts.append(Action("roster-remove", {"user": a, "jid": jid}))
        elif r < 0.8:
            acts.append(Action("subscribe", {"user": a, "jid": jid, "nick": self.users[a].nick}))
        else:
            acts.append(Action("roster-get", {"user": a}))

    def _r_muc_admin(self, acts: list[Action]) -> None:
        c, rng = self.c, self.c.rng
        ri = rng.randrange(len(self.rooms))
        what = rng.choice(["members", "set-affiliation", "config"])
        args = {"room": ri, "what": what, "jid": f"{_ascii(c.faker('en_US').user_name())}@{DOMAIN}",
                "affiliation": rng.choice(["member", "admin", "outcast", "none"]), "reason": c.sentence()}
        acts.append(Action("muc-admin", args))

    def _r_blocklist(self, acts: list[Action]) -> None:
        c, rng = self.c, self.c.rng
        a = self.pick_user()
        jids = [f"{_ascii(c.faker('en_US').user_name())}@spam.example" for _ in range(rng.randint(1, 3))]
        acts.append(Action("blocklist", {"user": a, "jids": jids}))

    def _r_muc_rejoin(self, acts: list[Action]) -> None:
        rng = self.c.rng
        ri = rng.randrange(len(self.rooms))
        room = self.rooms[ri]
        cand = [m for m in room.members if m != room.owner]
        if not cand:
            return
        u = rng.choice(cand)
        acts.append(Action("muc-leave", {"user": u, "room": ri, "status": self.c.status()}))
        acts.append(Action("muc-join", {"user": u, "room": ri, "history": rng.choice([5, 20, 50])}))


def plan_digest(seed: int, clients: int, rounds: int) -> str:
    """SHA-256 over the setup and the first `rounds` rounds of a plan."""
    p = Plan(seed, clients)
    return digest_of(p, [p.next_round() for _ in range(rounds)])


def digest_of(p: Plan, rounds: list[list[Action]]) -> str:
    h = hashlib.sha256()
    for u in p.users:
        h.update(json.dumps([u.name, u.nick, u.resources, u.contacts, u.late, u.device_id], ensure_ascii=False,
                            sort_keys=True).encode())
        if u.avatar:
            h.update(repr(u.avatar[1:]).encode())
    for r in p.rooms:
        h.update(json.dumps([r.name, r.title, r.desc, r.owner, r.subject], ensure_ascii=False).encode())
    for acts in rounds:
        for a in acts:
            h.update(a.as_json().encode())
    return h.hexdigest()


def esc_attr(s: str) -> str:
    return esc(s)
