"""Seeded content for the traffic generator: what people put into messages.

Everything here is a pure function of a ``random.Random`` (and Faker instances
seeded from it), so the same seed gives the same texts, images and ids, in the
same order.  Nothing touches the network.
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import io
import random
import string
import uuid
from xml.sax.saxutils import escape as _esc

# Faker locales of the chat text, with their weights (how often a message is in them)
LOCALES = [
    ("en_US", 14), ("de_DE", 6), ("fr_FR", 5), ("es_ES", 5), ("pt_BR", 5), ("it_IT", 3),
    ("pl_PL", 3), ("nl_NL", 2), ("tr_TR", 2), ("vi_VN", 2), ("ru_RU", 6), ("uk_UA", 2),
    ("ja_JP", 6), ("zh_CN", 6), ("zh_TW", 2), ("ko_KR", 4), ("ar_AA", 4), ("fa_IR", 2),
    ("he_IL", 3), ("hi_IN", 3), ("bn_BD", 1), ("th_TH", 2), ("el_GR", 3), ("hy_AM", 1),
    ("ka_GE", 1),
]

# Faker has no lorem text in these locales (it falls back to Latin): everyday phrases written
# for this generator, mixed with Faker's native names, cities and companies
PHRASES = {
    "ko_KR": ["안녕하세요!", "오늘 회의는 몇 시에 해요?", "고마워요 🙏", "지금 가는 중이에요", "점심 먹었어요?",
              "내일 다시 얘기해요", "파일 보냈어요, 확인해 주세요", "ㅋㅋㅋ 진짜요?", "잠깐만요", "주말 잘 보내세요"],
    "hi_IN": ["नमस्ते!", "आज मीटिंग कितने बजे है?", "धन्यवाद 🙏", "मैं रास्ते में हूँ", "क्या आपने खाना खाया?",
              "कल फिर बात करते हैं", "फ़ाइल भेज दी है, देख लीजिए", "ठीक है, कोई बात नहीं", "एक मिनट रुकिए"],
    "ka_GE": ["გამარჯობა!", "მადლობა!", "სად ხარ?", "ხვალ შევხვდეთ", "ფაილი გამოგიგზავნე", "კარგი, გასაგებია"],
    "tr_TR": ["Merhaba, nasılsın?", "Toplantı saat kaçta?", "Teşekkürler!", "Yoldayım, geliyorum",
              "Dosyayı gönderdim, bakar mısın?", "Yarın konuşuruz", "Tamam, sorun değil", "Çok güzel olmuş 👏"],
}

# emoji as people send them: ZWJ sequences, skin tones, flags, keycaps, presentation selectors
EMOJI_SIMPLE = list("😀😂🤣😊😍🥰😘😎🤔🙄😴😭😡👍👎👏🙏💪🔥✨🎉🎂❤💔💯✅❌⚡🌹🌙☀🍕🍺☕🚀🐱🐶🦄🌈🎶📎📷🔗🕊")
EMOJI_ZWJ = [
    "👨\u200d👩\u200d👧\u200d👦", "👩\u200d👩\u200d👦", "👨\u200d👨\u200d👧", "👩\u200d💻", "👨\u200d🍳",
    "🧑\u200d🚀", "👩\u200d🔬", "🏳\ufe0f\u200d🌈", "🏳\ufe0f\u200d⚧\ufe0f", "❤\ufe0f\u200d🔥",
    "😶\u200d🌫\ufe0f", "🐕\u200d🦺", "🧑\u200d🤝\u200d🧑", "👁\ufe0f\u200d🗨\ufe0f", "🏃\u200d♀\ufe0f",
]
SKIN = ["\U0001F3FB", "\U0001F3FC", "\U0001F3FD", "\U0001F3FE", "\U0001F3FF"]
EMOJI_TONABLE = ["👍", "👋", "🙏", "👏", "💪", "🤝", "👌", "✌\ufe0f", "🤷", "🙋\u200d♀\ufe0f", "🧑\u200d💻"]
FLAGS = ["JP", "CN", "KR", "DE", "BR", "FR", "UA", "IL", "IN", "GR", "SA", "US", "GB", "PT", "ES", "EU", "UN"]
KEYCAPS = ["1\ufe0f\u20e3", "2\ufe0f\u20e3", "#\ufe0f\u20e3", "*\ufe0f\u20e3"]

REACTIONS = ["👍", "❤\ufe0f", "😂", "😮", "😢", "🙏", "🔥", "🎉", "👍\U0001F3FD", "🫶\U0001F3FB", "💯", "🤔"]


def flag(cc: str) -> str:
    return "".join(chr(0x1F1E6 + ord(ch) - 65) for ch in cc)


def esc(s: str) -> str:
    """Text / attribute escaping for the hand-written XML templates."""
    return _esc(s, {'"': "&quot;", "'": "&apos;"})


class Content:
    """All seeded content of one run."""

    def __init__(self, seed: int) -> None:
        from faker import Faker

        self.rng = random.Random(seed)
        self.seed = seed
        self._fakers: dict[str, Faker] = {}
        self._faker_seed = seed
        self.locales = [loc for loc, _ in LOCALES]
        self.weights = [w for _, w in LOCALES]
        self._chat_locales: list[str] | None = None

    # -- basics -------------------------------------------------------------
    def faker(self, locale: str):
        f = self._fakers.get(locale)
        if f is None:
            from faker import Faker

            f = Faker(locale)
            f.seed_instance(self._faker_seed * 1009 + len(self._fakers))
            self._fakers[locale] = f
        return f

    def locale(self) -> str:
        return self.rng.choices(self.locales, self.weights)[0]

    def msg_id(self) -> str:
        """An id as clients make them (UUID-shaped, from the seeded generator)."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def short_id(self, n: int = 10) -> str:
        return "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(n))

    def when(self) -> _dt.datetime:
        """A moment in 2025-2026 (Faker's date_time_this_* depend on today: not used)."""
        return _dt.datetime(2025, 1, 1) + _dt.timedelta(seconds=self.rng.randrange(2 * 365 * 86400),
                                                         microseconds=self.rng.randrange(1000) * 1000)

    def emoji(self) -> str:
        r = self.rng.random()
        if r < 0.45:
            return self.rng.choice(EMOJI_SIMPLE)
        if r < 0.65:
            return self.rng.choice(EMOJI_TONABLE) + self.rng.choice(SKIN)
        if r < 0.85:
            return self.rng.choice(EMOJI_ZWJ)
        if r < 0.95:
            return flag(self.rng.choice(FLAGS))
        return self.rng.choice(KEYCAPS)

    def emojis(self, n: int) -> str:
        return "".join(self.emoji() for _ in range(n))

    # -- texts ------------------------------------------------------------------
    def sentence(self, locale: str | None = None) -> str:
        loc = locale or self.locale()
        f = self.faker(loc)
        r = self.rng.random()
        if loc in PHRASES:
            s = self.rng.choice(PHRASES[loc])
            if r < 0.5:
                s += " " + self.rng.choice([f.city(), f.name(), f.company(), f.street_name()]) + " " + \
                    self.rng.choice(PHRASES[loc])
            return s
        if r < 0.55:
            s = f.sentence(nb_words=self.rng.randint(3, 14))
        elif r < 0.8:
            s = f.text(max_nb_chars=self.rng.choice([40, 80, 160]))
        else:
            s = f.paragraph(nb_sentences=self.rng.randint(1, 3))
        return s

    def paragraph(self, loc: str) -> str:
        if loc in PHRASES:
            return " ".join(self.sentence(loc) for _ in range(self.rng.randint(3, 7)))
        return self.faker(loc).paragraph(nb_sentences=self.rng.randint(3, 7))

    def url(self) -> str:
        f = self.faker("en_US")
        r = self.rng.random()
        if r < 0.3:
            return f.url() + f.uri_path() + "?" + "&".join(
                f"{f.word()}={f.word()}" for _ in range(self.rng.randint(1, 3)))
        if r < 0.5:
            return f"https://www.youtube.com/watch?v={self.short_id(11)}&t={self.rng.randint(1, 900)}s"
        if r < 0.7:
            return f"https://github.com/{f.user_name()}/{f.word()}-{f.word()}/issues/{self.rng.randint(1, 4000)}"
        return f.uri()

    def code_paste(self) -> str:
        f = self.faker("en_US")
        r = self.rng.random()
        if r < 0.35:  # log lines
            lines = []
            for _ in range(self.rng.randint(3, 12)):
                lvl = self.rng.choice(["INFO", "WARN", "ERROR", "DEBUG"])
                lines.append(f"{self.when().isoformat(timespec='milliseconds')}Z {lvl:5} "
                             f"[{f.word()}-{self.rng.randint(1, 16)}] {f.ipv4()} "
                             f"\"{self.rng.choice(['GET', 'POST', 'PUT'])} "
                             f"{f.uri_path()} HTTP/1.1\" {self.rng.choice([200, 204, 301, 404, 500, 502])} "
                             f"{self.rng.randint(80, 90000)} {self.rng.random():.3f}s")
            return "\n".join(lines)
        if r < 0.7:  # python
            name, arg = f.word(), f.word()
            return (f"```python\ndef {name}_{arg}({arg}: dict[str, int]) -> list[str]:\n"
                    f"    \"\"\"{f.sentence()}\"\"\"\n"
                    f"    out = [k for k, v in {arg}.items() if v > {self.rng.randint(0, 99)} and k != '{f.word()}']\n"
                    f"    if not out:\n        raise ValueError(f\"no {{len({arg})}} <{name}> & co\")\n"
                    f"    return sorted(out)\n```")
        if r < 0.85:  # shell
            return (f"$ curl -sS -H 'Accept: application/json' \"{self.url()}\" | jq '.items[] | select(.size > "
                    f"{self.rng.randint(1, 999)})'\n$ echo $? && ls -la /var/log/{f.word()}/ 2>&1 | tail -n 3")
        # a traceback
        return ("Traceback (most recent call last):\n"
                f"  File \"/usr/lib/python3/dist-packages/{f.word()}/{f.word()}.py\", "
                f"line {self.rng.randint(10, 900)}, in {f.word()}\n"
                f"    return self._{f.word()}(*args, **kwargs)\n"
                f"KeyError: '{f.word()}'")

    def chat_text(self) -> str:
        """One chat message body, in a style drawn from a steady mix."""
        r = self.rng.random()
        if self._chat_locales is None:  # every locale once first, so that small captures hold them all
            self._chat_locales = list(self.locales)
            self.rng.shuffle(self._chat_locales)
        loc = self._chat_locales.pop() if self._chat_locales else self.locale()
        if r < 0.40:
            s = self.sentence(loc)
            if self.rng.random() < 0.35:
                s += " " + self.emojis(self.rng.randint(1, 3))
            return s
        if r < 0.52:  # short reply
            return self.rng.choice(["ok", "OK!", "lol", "+1", "ja", "はい", "好的", "네", "да", "نعم", "כן", "ναι",
                                    "haha", "😂😂", "brb", "np", "thx!", "👍", "?", "…"]) + (
                " " + self.emoji() if self.rng.random() < 0.3 else "")
        if r < 0.62:
            return self.emojis(self.rng.randint(1, 6))
        if r < 0.72:
            return f"{self.sentence(loc)} {self.url()}"
        if r < 0.80:
            return self.code_paste()
        if r < 0.87:  # long message: several paragraphs
            return "\n\n".join(self.paragraph(loc) for _ in range(self.rng.randint(2, 5)))
        if r < 0.94:  # mixed scripts in one message
            return " ".join(self.sentence(self.locale()) for _ in range(2)) + " " + self.emoji()
        return f"> {self.sentence(loc)}\n{self.sentence(loc)}"

    def status(self) -> str:
        r = self.rng.random()
        if r < 0.5:
            loc = self.locale()
            if loc in PHRASES:
                return self.rng.choice(PHRASES[loc])
            return self.faker(loc).sentence(nb_words=self.rng.randint(2, 6))
        if r < 0.7:
            return self.emoji() + " " + self.faker(self.locale()).word()
        return self.rng.choice(["Working from home", "In a meeting", "🎧", "Out of office until Monday",
                                "仕事中", "忙碌", "회의 중", "В отпуске", "في اجتماع", "בחופשה"])

    # -- binary things ------------------------------------------------------------
    def image(self, kind: str | None = None, size: int | None = None) -> tuple[bytes, str, int, int]:
        """A real PNG or JPEG made with Pillow: (bytes, mime, width, height)."""
        from PIL import Image, ImageDraw

        kind = kind or self.rng.choice(["png", "jpeg", "jpeg"])
        w = h = size or self.rng.choice([32, 48, 64, 96])
        img = Image.new("RGB", (w, h), tuple(self.rng.randrange(256) for _ in range(3)))
        d = ImageDraw.Draw(img)
        for _ in range(self.rng.randint(3, 12)):
            x0, y0 = self.rng.randrange(w), self.rng.randrange(h)
            x1, y1 = x0 + self.rng.randrange(1, w), y0 + self.rng.randrange(1, h)
            fill = tuple(self.rng.randrange(256) for _ in range(3))
            if self.rng.random() < 0.5:
                d.ellipse([x0, y0, x1, y1], fill=fill)
            else:
                d.rectangle([x0, y0, x1, y1], fill=fill)
        # a little noise, as in a photo
        px = img.load()
        for _ in range(w * h // 6):
            x, y = self.rng.randrange(w), self.rng.randrange(h)
            px[x, y] = tuple(self.rng.randrange(256) for _ in range(3))
        buf = io.BytesIO()
        if kind == "png":
            img.save(buf, "PNG", optimize=False)
            return buf.getvalue(), "image/png", w, h
        img.save(buf, "JPEG", quality=self.rng.choice([70, 80, 90]))
        return buf.getvalue(), "image/jpeg", w, h

    def random_bytes(self, n: int) -> bytes:
        return self.rng.getrandbits(8 * n).to_bytes(n, "big") if n else b""

    def b64(self, n: int) -> str:
        return base64.b64encode(self.random_bytes(n)).decode("ascii")

    def file_meta(self) -> dict:
        f = self.faker("en_US")
        kind = self.rng.choice(["jpg", "png", "pdf", "mp4", "ogg", "zip", "txt", "docx"])
        mime = {"jpg": "image/jpeg", "png": "image/png", "pdf": "application/pdf", "mp4": "video/mp4",
                "ogg": "audio/ogg", "zip": "application/zip", "txt": "text/plain",
                "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}[kind]
        base = self.rng.choice([f.word(), f"IMG_{self.rng.randint(1000, 9999)}", f"{f.word()}_{f.word()}",
                                self.faker(self.locale()).word()])
        content = self.random_bytes(64)  # the hashes are of something
        return {
            "name": f"{base}.{kind}", "mime": mime, "size": self.rng.randint(2_000, 40_000_000),
            "sha256": base64.b64encode(hashlib.sha256(content).digest()).decode(),
            "sha3": base64.b64encode(hashlib.sha3_256(content).digest()).decode(),
            "blake2b": base64.b64encode(hashlib.blake2b(content, digest_size=32).digest()).decode(),
            "date": self.when().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "desc": self.sentence() if self.rng.random() < 0.3 else "",
            "width": self.rng.choice([640, 1080, 1920, 3024, 4032]),
            "height": self.rng.choice([480, 1350, 1080, 4032, 3024]),
            "url": f"https://upload.localhost/file_share/{self.short_id(24)}/{base}.{kind}",
        }
