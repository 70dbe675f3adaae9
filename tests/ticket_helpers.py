"""Builders and readers shared by the ticket, desk-ticket, risk, dispute and phishing-safety tests.

Evidence files are made here, small and in memory: real images from Pillow (one with EXIF camera
and GPS data), minimal PDFs with and without active content, and the disguised files an attacker
would send. Tickets are opened and answered through ``portal.tickets.service``, the code the pages use.
"""
import functools
import io
import os
import re
import struct
import uuid
import zlib

from markupsafe import escape
from PIL import Image

from portal.core.vocabulary import Role, TicketCategory
from portal.core.workdays import WorkCalendar
from portal.tickets import service as ticket_service
from portal.tickets.models import Attachment, Ticket, TicketMessage
from tests.desk_helpers import section, signed_in, staff
from tests.factories import Page, make_shop, make_user

CALENDAR = WorkCalendar()
SLA_WORKDAYS = 2  # the TICKET_SLA_WORKDAYS default
HX = {"HX-Request": "true"}
CAMERA_MAKE = "SpyCamCorp"
CAMERA_MODEL = "Tracker-9000"
TICKET_TEXT = "第一行：金额不对\nsecond line, kept"

__all__ = ["Page", "section", "signed_in", "staff"]


# --- evidence files ------------------------------------------------------------------------------

def image_bytes(image_format="JPEG", size=(12, 8), color=(200, 30, 30), **save_options):
    """A small real image in ``image_format``."""
    mode = "RGBA" if image_format == "PNG" and len(color) == 4 else "RGB"
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=image_format, **save_options)
    return buffer.getvalue()


def jpeg_with_exif(size=(12, 8)):
    """A JPEG carrying a camera make and model and a GPS position (a seller's home, say)."""
    exif = Image.Exif()
    exif[0x010F] = CAMERA_MAKE  # Make
    exif[0x0110] = CAMERA_MODEL  # Model
    gps = exif.get_ifd(0x8825)  # the GPS IFD
    gps.update({1: "N", 2: (30.0, 15.0, 7.5), 3: "E", 4: (120.0, 9.0, 3.25)})
    data = image_bytes("JPEG", size, exif=exif.tobytes())
    with Image.open(io.BytesIO(data)) as check:  # the test file really carries what it claims
        assert check.getexif().get_ifd(0x8825) and CAMERA_MAKE.encode() in data
    return data


def noisy_png(size=(48, 48)):
    """A PNG of random pixels: it does not compress, so its size is about 3 bytes per pixel."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def pdf(*extra_objects, catalog_extra=""):
    """A minimal one-page PDF, with extra objects and catalog entries when given."""
    objects = [f"<< /Type /Catalog /Pages 2 0 R {catalog_extra}>>",
               "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>", *extra_objects]
    out = "%PDF-1.4\n"
    offsets = []
    for number, text in enumerate(objects, start=1):
        offsets.append(len(out.encode("latin-1")))
        out += f"{number} 0 obj\n{text}\nendobj\n"
    # A real cross-reference table, as every PDF writer makes one: readers start from it.
    xref_at = len(out.encode("latin-1"))
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n"
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n"
    return out.encode("latin-1")


CLEAN_PDF = pdf()
PDF_WITH_JAVASCRIPT = pdf("<< /S /JavaScript /JS (app.alert('hi')) >>", catalog_extra="/OpenAction 4 0 R ")
PHP_NAMED_JPG = b"<?php system($_GET['cmd']); ?>\n"
HTML_NAMED_JPG = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG_WITH_SCRIPT = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                   b"<script>alert(1)</script><rect width='10' height='10'/></svg>")
# JPEG magic bytes followed by a web page and a PHP payload: no image at all behind the signature.
JPEG_MAGIC_POLYGLOT = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + HTML_NAMED_JPG + PHP_NAMED_JPG
APPENDED_PAYLOAD = b"<script>alert('appended')</script>"


# --- image bombs: tiny files whose headers claim tens of megapixels ----------------------------------

def jpeg_bomb(width=8944, height=8944):
    """A few hundred bytes of JPEG whose frame header claims ``width`` × ``height`` (80 Mpx by default)."""
    data = bytearray(image_bytes("JPEG", (8, 8), quality=10))
    frame = data.find(b"\xff\xc0")  # SOF0: marker, length, precision, then height and width
    struct.pack_into(">HH", data, frame + 5, height, width)
    return bytes(data)


def webp_bomb(width=16383, height=4880):
    """A lossless WebP of a few dozen bytes whose header claims ``width`` × ``height``: an empty picture."""
    data = bytearray(image_bytes("WEBP", (16, 16), color=(0, 0, 0), lossless=True))
    header = data.find(b"VP8L") + 9  # chunk id, size, signature byte; then 14 + 14 bits of size - 1
    bits = struct.unpack_from("<I", data, header)[0] & ~((1 << 28) - 1)
    struct.pack_into("<I", data, header, bits | (width - 1) | ((height - 1) << 14))
    return bytes(data)


def png_chunk(kind, payload):
    """One PNG chunk with its length and CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


@functools.cache
def png_bomb(width=8944, height=8944):
    """A valid, fully transparent RGBA PNG of ``width`` × ``height``: some 300 KB of compressed zeros."""
    row = b"\x00" * (1 + 4 * width)  # filter byte, then RGBA zeros
    packer = zlib.compressobj(9)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", pixels)
            + png_chunk(b"IEND", b""))


def mpo_bytes(size=(12, 8)):
    """A two-picture MPO file, as many phone cameras write for portrait or 3D shots."""
    buffer = io.BytesIO()
    first, second = Image.new("RGB", size, (200, 30, 30)), Image.new("RGB", size, (30, 30, 200))
    first.save(buffer, format="MPO", save_all=True, append_images=[second])
    return buffer.getvalue()


def jpeg_with_appended_script():
    """A real JPEG with a script appended after its image data (browsers that sniff would run it)."""
    return image_bytes("JPEG") + APPENDED_PAYLOAD


def upload(data, name, content_type="application/octet-stream"):
    """One file as the test client posts it."""
    return (io.BytesIO(data), name, content_type)


# --- sellers and tickets -----------------------------------------------------------------------

def seller(name=None):
    """A seller with a shop (no ledger: tickets need none); returns ``(shop, user)``."""
    shop = make_shop(name=name or f"小店{uuid.uuid4().hex[:6]}")
    return shop, make_user(shop=shop)


def open_ticket(app, shop, user, category=TicketCategory.OTHER, subject="金额疑问", body=TICKET_TEXT, files=(),
                now=None, **links):
    """A ticket opened through ``ticket_service.open_ticket``, as the new-ticket page does."""
    return ticket_service.open_ticket(shop, user, category, subject, body, list(files), app.config["UPLOAD_DIR"],
                                 CALENDAR, SLA_WORKDAYS, uuid.uuid4().hex, now=now, **links)


def write(app, ticket, user, body, files=(), **options):
    """A message (or, with ``internal=True``, a note) added through ``ticket_service.reply``."""
    return ticket_service.reply(ticket.id, user, body, list(files), app.config["UPLOAD_DIR"], CALENDAR, **options)


def ticket_form(files=(), **fields):
    """The POST body of the new-ticket form; ``fields`` override the defaults."""
    values = {"category": TicketCategory.OTHER, "subject": "金额疑问", "message": TICKET_TEXT,
              "idempotency_key": uuid.uuid4().hex, "files": list(files)}
    values.update(fields)
    return values


def agent_client(app, username=None):
    """A support agent and their browser (English pages); returns ``(agent, client)``."""
    agent = staff(Role.AGENT, username)
    return agent, signed_in(app, agent)


def fresh(ticket):
    """The ticket as the database holds it now."""
    return Ticket.get_by_id(ticket.id)


# --- what the database and the disk hold ---------------------------------------------------------

def ticket_rows():
    """How many tickets, messages and attachments exist: what "nothing stored" compares."""
    return Ticket.select().count(), TicketMessage.select().count(), Attachment.select().count()


def stored_files(app):
    """Every file under UPLOAD_DIR, as paths relative to it."""
    root = app.config["UPLOAD_DIR"]
    return sorted(os.path.relpath(os.path.join(folder, name), root)
                  for folder, _dirs, names in os.walk(root) for name in names)


# --- reading pages -----------------------------------------------------------------------------------

def thread_version(html):
    """The ``v=`` the thread's poller sends (the version the page shows)."""
    match = re.search(r"/thread\?v=(\d+)", html)
    assert match, "the thread does not poll"
    return int(match.group(1))


def seen_message_id(html):
    """The last message the desk page says the agent has seen."""
    return int(Page(html).find("input", name="seen_message_id")["value"])


# The marker after a message written in another language than the page's.
WRITTEN_IN = re.compile(r"\s*(?:\(written in (?:Chinese|English)\)|（原文为[中英]文）)$")


def message_bodies(html):
    """The text of every message shown in a thread (or in the #arrived box), top to bottom, without language markers."""
    return [WRITTEN_IN.sub("", element.text) for element in Page(html).with_class("message", "p")]


def field_error(html, field_id):
    """The error text shown beside a form field."""
    return Page(html).find(id=f"{field_id}-error").text


def textarea(html, name):
    """What a textarea holds (white space collapsed)."""
    return Page(html).find("textarea", name=name).text


def xss(label):
    """Script and an image with an error handler, labelled so each field's copy can be told apart."""
    return f'<script>alert("{label}")</script><img src=x onerror=alert("{label}")>'


def assert_escaped(html, label):
    """The labelled payload shows literally (escaped), and no markup of it survives."""
    assert "<script>alert(" not in html
    assert "<img src=x onerror" not in html
    assert str(escape(xss(label))) in html, f"the escaped {label!r} payload is not on the page"
