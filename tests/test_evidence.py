"""Evidence files, the rules alone (no Flask, no database): type from content, clean images, safe PDFs, safe names."""
import io
import os
import re
import stat
import struct
import subprocess
import sys
import textwrap
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

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
    jpeg_bomb,
    jpeg_with_appended_script,
    jpeg_with_exif,
    mpo_bytes,
    pdf,
    png_bomb,
    webp_bomb,
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
    assert refusal(bomb, "bomb.png") == "too_many_pixels"


# Each bomb, and the limit its refusal names: a WebP takes 28 bytes a pixel to clean, not 4, so 5.9 Mpx.
BOMBS = {"jpeg": ("bomb.jpg", jpeg_bomb, "40"), "webp": ("bomb.webp", webp_bomb, "5.9"),
         "png": ("bomb.png", png_bomb, "40")}


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_an_image_bomb_is_refused_from_its_header_without_decoding(kind, monkeypatch):
    """A small file claiming 80 Mpx (an 8944² JPEG or PNG, a 16383 × 4880 WebP) is refused, no pixel decoded."""
    name, bomb, megapixels = BOMBS[kind]

    def no_decoding(image):
        """Decoding would be the bomb going off."""
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # the portal's own check, not Pillow's backstop
    with pytest.raises(evidence.EvidenceRefused) as refused:
        evidence.clean(bomb(), name, 1024 * 1024)
    assert (refused.value.code, refused.value.params) == ("too_many_pixels", {"megapixels": megapixels})


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_pillow_itself_refuses_an_image_over_the_limit(kind):
    """Past the configured limit Pillow raises, not warns; by default it would decode up to twice the limit."""
    evidence.limit_pillow(40_000_000)
    with pytest.raises((Image.DecompressionBombError, Image.DecompressionBombWarning)):
        Image.open(io.BytesIO(BOMBS[kind][1]()))


def test_the_pixel_limit_is_a_setting():
    """``max_pixels`` decides: 100 × 50 passes a 5,000-pixel limit and fails a 4,999-pixel one."""
    picture = image_bytes("PNG", (100, 50))
    assert decoded(evidence.clean(picture, "a.png", LIMIT, max_pixels=5_000)[0])[:2] == ("PNG", (100, 50))
    with pytest.raises(evidence.EvidenceRefused) as refused:
        evidence.clean(picture, "a.png", LIMIT, max_pixels=4_999)
    assert refused.value.code == "too_many_pixels"


@pytest.mark.parametrize(("picture", "bytes_per_pixel"), [
    (image_bytes("JPEG", (100, 50)), 4),  # decoded in place, 4 bytes per RGB pixel
    (image_bytes("JPEG", (100, 50), exif=b"Exif\x00\x00" + Image.Exif().tobytes()), 4),
    (image_bytes("WEBP", (100, 50)), 28),  # libwebp's buffers, Pillow's copy, the encoder's picture
    (image_bytes("PNG", (100, 50), color=(0, 0, 0, 0)), 4),
], ids=["jpeg", "jpeg-upright-exif", "webp", "png-rgba"])
def test_the_memory_an_image_may_take_is_counted_before_decoding(picture, bytes_per_pixel):
    """An image whose decoding would need more than ``max_decoded_bytes`` is refused; at the budget it passes."""
    budget = 100 * 50 * bytes_per_pixel
    assert evidence.clean(picture, "a", LIMIT, max_decoded_bytes=budget)[0]
    with pytest.raises(evidence.EvidenceRefused) as refused:
        evidence.clean(picture, "a", LIMIT, max_decoded_bytes=budget - 1)
    assert refused.value.code == "too_many_pixels"


def test_turning_a_photo_upright_counts_as_a_second_copy():
    """A sideways photo is held twice while it is turned, so it needs twice the memory of an upright one."""
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways = image_bytes("JPEG", (100, 50), exif=exif.tobytes())
    assert decoded(evidence.clean(sideways, "a.jpg", LIMIT, max_decoded_bytes=100 * 50 * 8)[0])[1] == (50, 100)
    with pytest.raises(evidence.EvidenceRefused):
        evidence.clean(sideways, "a.jpg", LIMIT, max_decoded_bytes=100 * 50 * 8 - 1)


def test_an_mpo_from_a_phone_camera_is_accepted_as_a_plain_jpeg():
    """A two-picture MPO becomes a one-picture JPEG: the first picture, with no multi-picture index."""
    content, content_type, extension = evidence.clean(mpo_bytes((12, 8)), "IMG_0001.JPG", LIMIT)
    assert (content_type, extension) == ("image/jpeg", ".jpg")
    with Image.open(io.BytesIO(content)) as image:
        assert (image.format, image.size, getattr(image, "n_frames", 1)) == ("JPEG", (12, 8), 1)
        assert image.convert("RGB").getpixel((6, 4))[0] > 150  # the first (red) picture
    assert content.count(b"\xff\xd8") == 1 and b"MPF\x00" not in content


PEAK_MEMORY = textwrap.dedent("""
    import io, sys
    sys.path.insert(0, sys.argv[1])
    from PIL import Image
    from portal import create_app
    from tests.ticket_helpers import jpeg_bomb, png_bomb, webp_bomb
    create_app({"TESTING": True, "DATABASE_URL": "sqlite:///:memory:", "SECRET_KEY": "x", "UPLOAD_DIR": sys.argv[2]})
    from portal.tickets import evidence
    if sys.argv[3] in ("photo", "webp-photo"):  # the largest accepted: a 40 Mpx JPEG, a 6 Mpx WebP
        buffer = io.BytesIO()
        size, image_format = ((7744, 5164), "JPEG") if sys.argv[3] == "photo" else ((2990, 2000), "WEBP")
        picture = Image.linear_gradient("L").resize(size)
        if image_format == "JPEG":
            picture = picture.convert("RGB")
        else:  # transparency makes a WebP dearest
            picture = picture.convert("RGBA")
            picture.putalpha(Image.linear_gradient("L").resize(size))
        picture.save(buffer, image_format, quality=90)
        del picture
        data = buffer.getvalue()
        del buffer
    else:
        data = {"jpeg": jpeg_bomb, "png": png_bomb, "webp": webp_bomb}[sys.argv[3]]()
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # start the peak resident size afresh, from the portal loaded and idle
    try:
        outcome = "accepted:%d" % len(evidence.clean(data, "x", 10 * 1024 * 1024)[0])
    except evidence.EvidenceRefused as refused:
        outcome = refused.code
    peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0].split()[1]
    print(outcome, int(peak) // 1024)
""")


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux's /proc/self/clear_refs")
@pytest.mark.parametrize(("case", "expected"), [("photo", "accepted"), ("webp-photo", "accepted"),
                                                 ("jpeg", "too_many_pixels"),
                                                 ("png", "too_many_pixels"), ("webp", "too_many_pixels")])
def test_an_upload_peaks_under_256_mb(case, expected, tmp_path):
    """Cleaning the largest photo accepted, or refusing a bomb, keeps the process's peak memory under 256 MB."""
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-c", PEAK_MEMORY, project, str(tmp_path), case],
                            capture_output=True, text=True, timeout=120, check=True)
    outcome, peak_mb = result.stdout.split()
    assert outcome.split(":")[0] == expected
    assert int(peak_mb) < 256, f"{case}: peak {peak_mb} MB"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(MAGIC)), tail=st.binary(max_size=300))
def test_any_bytes_are_either_cleaned_or_refused(kind, tail):
    """Whatever follows a signature, ``clean`` returns a clean file or refuses it: it never fails otherwise."""
    data = MAGIC[kind] + tail
    try:
        content, content_type, extension = evidence.clean(data, "x", LIMIT)
    except evidence.EvidenceRefused as refused:
        assert refused.code in {"unreadable_image", "unsupported_type", "pdf_active_content", "pdf_unreadable",
                                "too_many_pixels"}
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
