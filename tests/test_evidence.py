"""Evidence files, the rules alone (no Flask, no database): type from content, clean images, safe PDFs, safe names."""
import io
import os
import re
import stat
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from portal.tickets import evidence
from tests.ticket_helpers import (
    APPENDED_PAYLOAD,
    CAMERA_MAKE,
    CAMERA_MODEL,
    CLEAN_PDF,
    HTML_NAMED_JPG,
    JPEG_MAGIC_POLYGLOT,
    PDF_WITH_JAVASCRIPT,
    PHP_NAMED_JPG,
    SVG_WITH_SCRIPT,
    image_bytes,
    jpeg_with_appended_script,
    jpeg_with_exif,
    pdf,
)

LIMIT = 1024 * 1024
MAGIC = {"jpeg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n", "webp": b"RIFF\x00\x00\x00\x00WEBP", "pdf": b"%PDF-"}


def refusal(data, name="file.jpg", limit=LIMIT):
    """The code ``clean`` refuses a file with (fails the test when it accepts it)."""
    with pytest.raises(evidence.EvidenceRefused) as refused:
        evidence.clean(data, name, limit)
    assert refused.value.name == name
    return refused.value.code


def decoded(data):
    """An image's format, size and EXIF, read back with Pillow."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.format, image.size, dict(image.getexif())


def png_chunk(kind, payload):
    """One PNG chunk with its length and CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


# --- what a file is ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "kind"), [
    (image_bytes("JPEG"), "jpeg"), (image_bytes("PNG"), "png"), (image_bytes("WEBP"), "webp"), (CLEAN_PDF, "pdf"),
    (PHP_NAMED_JPG, None), (HTML_NAMED_JPG, None), (SVG_WITH_SCRIPT, None), (b"GIF89a\x01\x00", None), (b"", None),
])
def test_sniff_judges_by_the_first_bytes(data, kind):
    """The kind comes from the file's signature; scripts, pages, SVG and GIF are no kind we take."""
    assert evidence.sniff(data) == kind


@pytest.mark.parametrize("name", ["photo.jpg", "photo.png", "photo.pdf", "no-extension"])
def test_the_name_never_decides_the_type(name):
    """A PNG is a PNG whatever it is called: the type and extension come from the content."""
    _data, content_type, extension = evidence.clean(image_bytes("PNG"), name, LIMIT)
    assert (content_type, extension) == ("image/png", ".png")


# --- refusals ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "code"), [
    (b"", "empty"),
    (PHP_NAMED_JPG, "unsupported_type"),
    (HTML_NAMED_JPG, "unsupported_type"),
    (SVG_WITH_SCRIPT, "unsupported_type"),
    (JPEG_MAGIC_POLYGLOT, "unreadable_image"),
    (MAGIC["png"] + HTML_NAMED_JPG, "unreadable_image"),
    (image_bytes("JPEG")[:40], "unreadable_image"),
    (PDF_WITH_JAVASCRIPT, "pdf_active_content"),
], ids=["empty", "php", "html", "svg", "jpeg-magic-polyglot", "png-magic-polyglot", "truncated-jpeg",
        "pdf-javascript"])
def test_bad_files_are_refused_with_the_reason(data, code):
    """Empty, disguised, broken and scripted files are refused, each with a reason code."""
    assert refusal(data) == code


def test_a_file_over_the_limit_is_refused():
    """One byte over the limit is too large; exactly the limit is fine."""
    data = image_bytes("PNG")
    assert refusal(data, limit=len(data) - 1) == "too_large"
    assert evidence.clean(data, "a.png", len(data))[1] == "image/png"


@pytest.mark.parametrize("active", [
    "<< /S /JavaScript /JS (app.alert(1)) >>",
    "<< /S /Launch /F (cmd.exe) >>",
    "<< /Type /EmbeddedFile /Length 0 >>",
    "<< /Type /Annot /Subtype /RichMedia >>",
    "<< /Type /Page /AA << /O 5 0 R >> >>",
    "<< /XFA 6 0 R >>",
])
def test_pdf_active_content_is_refused(active):
    """Scripts, launch actions, embedded files, rich media, automatic actions and XFA forms are refused."""
    assert refusal(pdf(active), "invoice.pdf") == "pdf_active_content"


def test_pdf_action_hidden_by_name_escapes_is_refused():
    """``/J#61vaScript`` is ``/JavaScript`` to a PDF reader (names may spell letters as #xx), so it is refused too."""
    assert refusal(pdf("<< /S /J#61vaScript /J#53 (app.alert(1)) >>"), "invoice.pdf") == "pdf_active_content"


def test_a_pdf_cut_short_is_refused():
    """A PDF without its end marker is not a whole document."""
    assert refusal(CLEAN_PDF[: len(CLEAN_PDF) // 2], "cut.pdf") == "pdf_unreadable"


def test_a_decompression_bomb_is_refused():
    """A PNG that claims 20000 × 20000 pixels is refused before it is decoded."""
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    bomb = (MAGIC["png"] + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + png_chunk(b"IEND", b""))
    assert refusal(bomb, "bomb.png") == "unreadable_image"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(MAGIC)), tail=st.binary(max_size=300))
def test_any_bytes_are_either_cleaned_or_refused(kind, tail):
    """Whatever follows a signature, ``clean`` returns a clean file or refuses it: it never fails otherwise."""
    data = MAGIC[kind] + tail
    try:
        content, content_type, extension = evidence.clean(data, "x", LIMIT)
    except evidence.EvidenceRefused as refused:
        assert refused.code in {"unreadable_image", "unsupported_type", "pdf_active_content", "pdf_unreadable"}
    else:
        assert content and content_type in {kind[0] for kind in evidence.KINDS.values()}
        assert extension in {".jpg", ".png", ".webp", ".pdf"}


# --- accepted files ---------------------------------------------------------------------------------

def test_jpeg_loses_its_exif_and_gps_but_keeps_its_picture():
    """Camera make, model and GPS position are gone; the picture still decodes at the same size."""
    original = jpeg_with_exif(size=(16, 10))
    content, content_type, extension = evidence.clean(original, "我的照片.jpeg", LIMIT)
    assert (content_type, extension) == ("image/jpeg", ".jpg")
    assert decoded(content) == ("JPEG", (16, 10), {})
    assert CAMERA_MAKE.encode() not in content and CAMERA_MODEL.encode() not in content
    with Image.open(io.BytesIO(content)) as image:
        assert not image.getexif().get_ifd(0x8825)
        assert "exif" not in image.info


def test_a_jpeg_with_a_script_appended_keeps_only_its_pixels():
    """A real JPEG with ``<script>`` after the image data is accepted as re-encoded pixels, payload gone."""
    content, content_type, _extension = evidence.clean(jpeg_with_appended_script(), "x.jpg", LIMIT)
    assert content_type == "image/jpeg"
    assert APPENDED_PAYLOAD not in content and b"<script" not in content
    assert decoded(content)[:2] == ("JPEG", (12, 8))


def test_png_text_chunks_are_dropped_and_transparency_kept():
    """A PNG's text metadata does not survive; an image with an alpha channel keeps it."""
    buffer = io.BytesIO()
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script> 39.9N 116.4E")
    Image.new("RGBA", (5, 4), (10, 20, 30, 128)).save(buffer, format="PNG", pnginfo=info)
    content, content_type, _extension = evidence.clean(buffer.getvalue(), "a.png", LIMIT)
    assert content_type == "image/png" and b"<script" not in content and b"116.4E" not in content
    with Image.open(io.BytesIO(content)) as image:
        assert image.mode == "RGBA" and image.size == (5, 4) and image.getpixel((0, 0))[3] == 128


def test_webp_is_accepted_and_re_encoded():
    """A WebP comes back as a WebP of the same size."""
    content, content_type, extension = evidence.clean(image_bytes("WEBP", (9, 7)), "a.webp", LIMIT)
    assert (content_type, extension) == ("image/webp", ".webp")
    assert decoded(content)[:2] == ("WEBP", (9, 7))


def test_a_clean_pdf_is_accepted_unchanged():
    """A PDF without active content is kept byte for byte (it is always served as a download)."""
    assert evidence.clean(CLEAN_PDF, "bill.pdf", LIMIT) == (CLEAN_PDF, "application/pdf", ".pdf")


def test_exif_orientation_is_applied_before_the_tag_is_dropped():
    """A photo taken sideways is turned upright first, so dropping EXIF does not turn it."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    content, _type, _extension = evidence.clean(image_bytes("JPEG", (12, 8), exif=exif.tobytes()), "a.jpg", LIMIT)
    assert decoded(content)[1:] == ((8, 12), {})


@settings(max_examples=25, deadline=None)
@given(width=st.integers(1, 40), height=st.integers(1, 40), image_format=st.sampled_from(["JPEG", "PNG", "WEBP"]))
def test_any_image_keeps_its_size_and_loses_its_metadata(width, height, image_format):
    """Re-encoding keeps the format and size of every image and never keeps EXIF."""
    exif = Image.Exif()
    exif[0x010F] = CAMERA_MAKE
    content, _type, _extension = evidence.clean(
        image_bytes(image_format, (width, height), exif=exif.tobytes()), "x", LIMIT)
    assert decoded(content) == (image_format, (width, height), {})
    assert CAMERA_MAKE.encode() not in content


# --- stored names and download names -------------------------------------------------------------------

def test_store_uses_random_names_private_to_the_portal(tmp_path):
    """The same file stored twice gets two random names in fan-out folders, readable by the portal only."""
    first = evidence.store(str(tmp_path), b"same bytes", ".png")
    second = evidence.store(str(tmp_path), b"same bytes", ".png")
    assert first != second
    for stored in (first, second):
        assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{32}\.png", stored)
        path = evidence.path_for(str(tmp_path), stored)
        assert open(path, "rb").read() == b"same bytes"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize("stored_name", [
    "../../etc/passwd", "/etc/passwd", "ab/../../secret.png", "ab/" + "0" * 32 + ".php", "AB/" + "A" * 32 + ".png",
    "ab/" + "0" * 32 + ".png/../x", "",
])
def test_path_for_refuses_anything_but_a_stored_name(stored_name, tmp_path):
    """Only names ``store`` makes map to a path: nothing can climb out of the upload folder."""
    with pytest.raises(ValueError):
        evidence.path_for(str(tmp_path), stored_name)


@pytest.mark.parametrize(("name", "extension", "expected"), [
    ("证明材料.jpeg", ".jpg", "证明材料.jpg"),
    ("../../etc/shell.php.jpg", ".png", "shell.php.png"),
    ("C:\\fakepath\\bank slip.pdf", ".pdf", "C_fakepath_bank_slip.pdf"),
    ('<script>alert("x")</script>.jpg', ".jpg", "script.jpg"),
    ("", ".pdf", "evidence.pdf"),
    ("....", ".webp", "evidence.webp"),
])
def test_download_names_are_safe_and_carry_the_real_extension(name, extension, expected):
    """The seller's name is kept where harmless; folders, markup and a lying extension are not."""
    assert evidence.safe_download_name(name, extension) == expected


@given(name=st.text(max_size=200), extension=st.sampled_from([".jpg", ".png", ".webp", ".pdf"]))
def test_any_download_name_is_a_plain_file_name(name, extension):
    """Whatever the seller's file was called, the download name has no path, no markup and the true extension."""
    safe = evidence.safe_download_name(name, extension)
    assert safe.endswith(extension) and len(safe) <= 80 + len(extension)
    assert not set(safe) & set("/\\<>\"'\r\n\x00")
    assert not safe.startswith(".")


# --- PDFs are judged by their parsed objects, not their raw bytes --------------------------------------

def test_javascript_added_by_a_pdf_library_is_refused():
    """A document-level script written by a real PDF library (pypdf) is found and refused."""
    from pypdf import PdfWriter
    from pypdf.actions import JavaScript

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_open_action(JavaScript("app.alert('hi');"))
    out = io.BytesIO()
    writer.write(out)
    assert refusal(out.getvalue(), "generated.pdf") == "pdf_active_content"


def test_pixel_bytes_that_spell_a_pdf_name_do_not_refuse_a_clean_pdf():
    """An uncompressed gray image whose pixels are 47, 65, 65, 32 ("/AA ") is just an image."""
    image = ("<< /Type /XObject /Subtype /Image /Width 4 /Height 4 /ColorSpace /DeviceGray "
             "/BitsPerComponent 8 /Length 16 >>\nstream\n" + "/AA " * 4 + "\nendstream")
    data = pdf(image)
    assert evidence.clean(data, "scan.pdf", LIMIT)[1] == "application/pdf"
