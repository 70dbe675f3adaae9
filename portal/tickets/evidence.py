"""Evidence files: decide the type from the content, strip image metadata, store with random names.

No Flask here. What a file *is* comes from its first bytes, never from its name or the browser's
claim. Images are decoded and encoded again, which drops EXIF (location, device) and anything
appended to or hidden in the file (a polyglot keeps only its pixels). PDFs are parsed (with pypdf) and
accepted only without active content; they are always served as downloads.
"""
import io
import os
import re
import secrets
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.generic import IndirectObject

# Pillow's own bomb check, the backstop for any code that opens an image: ``limit_pillow`` sets it
# from the settings. ``clean`` reads the header's size itself first and refuses with a reason.
Image.MAX_IMAGE_PIXELS = 40_000_000

ORIENTATION = 0x0112
# WebP, measured with Pillow 13 (resident memory, so what the allocator keeps counts too): libwebp
# decodes into a canvas of its own and hands Pillow a copy, which Pillow copies into the image, 15
# bytes a pixel; encoding a picture with transparency takes 10 more. 28 leaves a margin (6 Mpx).
_WEBP_BYTES_PER_PIXEL = 28
# The modes each format is written in as decoded; any other mode is converted first (a copy).
_KEPT_MODES = {"JPEG": {"L", "RGB", "CMYK"}, "PNG": {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"},
               "WEBP": {"RGB", "RGBA"}}
# Formats Pillow opens under another name but that are the same kind of file: a phone's MPO is a
# JPEG with a second (depth or stereo) picture after the first; only the first is kept.
_SAME_FORMAT = {"MPO": "JPEG"}

KINDS = {
    "jpeg": ("image/jpeg", ".jpg", "JPEG"),
    "png": ("image/png", ".png", "PNG"),
    "webp": ("image/webp", ".webp", "WEBP"),
    "pdf": ("application/pdf", ".pdf", None),
}

# PDF features that run something or carry other files; a seller's evidence never needs them.
# Keys that carry scripts, launch programs or smuggle other files; and action types that run
# something. Looked for in the parsed objects (so compressed streams and #xx-escaped names are
# seen as a reader sees them), never in the raw bytes (where pixel data can look like "/AA ").
_PDF_ACTIVE_KEYS = {"/JS", "/JavaScript", "/Launch", "/EmbeddedFile", "/EmbeddedFiles", "/RichMedia", "/XFA",
                    "/AA"}  # /AA: actions that run by themselves when a page or field is opened
_PDF_ACTIVE_TYPES = {"/EmbeddedFile", "/RichMedia", "/Movie", "/Sound", "/3D"}
_PDF_ACTIVE_ACTIONS = {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/GoToE", "/RichMediaExecute"}
_PDF_MAX_OBJECTS = 200_000


class EvidenceRefused(ValueError):
    """A file that cannot be accepted; ``code`` names why, ``params`` fill in its message."""

    def __init__(self, code, name="", **params):
        super().__init__(code)
        self.code = code
        self.name = name
        self.params = params


def limit_pillow(max_pixels):
    """Make Pillow itself refuse (not warn about) any image over ``max_pixels``."""
    Image.MAX_IMAGE_PIXELS = int(max_pixels)
    # Between the limit and twice the limit Pillow only warns, and a warning lets the decoding go on.
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def sniff(data):
    """The kind of file the bytes are, by their signature, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"%PDF-"):
        return "pdf"
    return None


def clean(data, name, max_bytes, max_pixels=40_000_000, max_decoded_bytes=160 * 1024 * 1024):
    """Check one file and return ``(clean bytes, content type, extension)``, or raise ``EvidenceRefused``.

    ``max_pixels`` bounds width × height as the header states it; ``max_decoded_bytes`` bounds the
    memory the decoded pixels (and any copy of them) may take, so one upload cannot exhaust a worker.
    """
    if not data:
        raise EvidenceRefused("empty", name)
    if len(data) > max_bytes:
        raise EvidenceRefused("too_large", name)
    kind = sniff(data)
    if kind is None:
        raise EvidenceRefused("unsupported_type", name)
    content_type, extension, pillow_format = KINDS[kind]
    if kind == "pdf":
        _check_pdf(data, name)
        return data, content_type, extension
    return _reencode(data, pillow_format, name, max_pixels, max_decoded_bytes), content_type, extension


def _check_pdf(data, name):
    """Parse a PDF and refuse it when any object carries active content (or it cannot be parsed)."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        # Every object the file lists, referenced or not, plus whatever the trailer reaches.
        pending = [reader.trailer]
        for generation, entries in reader.xref.items():
            pending.extend(IndirectObject(number, generation, reader) for number in entries)
        pending.extend(IndirectObject(number, 0, reader) for number in reader.xref_objStm)
        seen = set()
        visited = 0
        while pending:
            item = pending.pop()
            if isinstance(item, IndirectObject):
                key = (item.idnum, item.generation)
                if key in seen:
                    continue
                seen.add(key)
                item = item.get_object()
            visited += 1
            if visited > _PDF_MAX_OBJECTS:
                raise EvidenceRefused("pdf_active_content", name)
            if isinstance(item, dict):
                if (_PDF_ACTIVE_KEYS.intersection(item.keys()) or item.get("/S") in _PDF_ACTIVE_ACTIONS
                        or item.get("/Type") in _PDF_ACTIVE_TYPES or item.get("/Subtype") in _PDF_ACTIVE_TYPES):
                    raise EvidenceRefused("pdf_active_content", name)
                pending.extend(item.values())
            elif isinstance(item, list):
                pending.extend(item)
    except EvidenceRefused:
        raise
    except Exception:  # noqa: BLE001 - any failure to parse untrusted bytes means "cannot be read"
        raise EvidenceRefused("pdf_unreadable", name) from None


def _bytes_per_pixel(mode):
    """What Pillow keeps in memory per pixel of a mode (every multi-band mode takes 4 bytes)."""
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode.startswith("I;16") else 4


def _megapixels(pixels):
    """A pixel count in megapixels for people, rounded down to a tenth: 40, 5.9."""
    tenths = pixels // 100_000
    return str(tenths // 10) if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10}"


def _check_size(image, name, bytes_per_pixel, max_pixels, max_decoded_bytes):
    """Refuse an image over the pixel limit, or whose pixels would take more than the memory allowed."""
    width, height = image.size
    allowed = min(max_pixels, max_decoded_bytes // bytes_per_pixel)
    if width * height > allowed:
        raise EvidenceRefused("too_many_pixels", name, megapixels=_megapixels(allowed))


def _reencode(data, pillow_format, name, max_pixels, max_decoded_bytes):
    """Decode an image and encode its pixels again, with no metadata; the size is checked first.

    Image.open reads only the header, so a bomb is refused from its stated size before a single pixel
    is decoded. Memory is counted per pixel at the busiest moment: a JPEG or PNG is decoded in place
    (4 bytes a pixel, 1 for grey or palette); turning a picture upright holds it twice for a moment;
    a mode the format cannot keep is converted into a second image; WebP costs far more (see
    ``_WEBP_BYTES_PER_PIXEL``).
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            if _SAME_FORMAT.get(image.format, image.format) != pillow_format:
                raise EvidenceRefused("unsupported_type", name)
            target = image.mode
            if target not in _KEPT_MODES[pillow_format]:
                has_alpha = pillow_format != "JPEG" and target in ("LA", "PA", "La", "RGBa")
                target = "RGBA" if has_alpha else "RGB"
            kept = _bytes_per_pixel(image.mode)
            busiest = max(_WEBP_BYTES_PER_PIXEL if pillow_format == "WEBP" else kept,
                          kept + _bytes_per_pixel(target) if target != image.mode else 0)
            _check_size(image, name, busiest, max_pixels, max_decoded_bytes)
            image.load()
            if pillow_format != "WEBP":
                return _encode(image, pillow_format, name, target, max(busiest, 2 * kept), max_pixels,
                               max_decoded_bytes)
            # WebP's decoder keeps its canvas and a copy of the pixels for as long as the file object
            # lives; a copy of the pixels alone lets all of that go before the encoder needs its share.
            pixels = image.copy()
        del image
        return _encode(pixels, pillow_format, name, target, busiest, max_pixels, max_decoded_bytes)
    except EvidenceRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own check, at open, for a size over the limit it was given (``limit_pillow``).
        raise EvidenceRefused("too_many_pixels", name, megapixels=_megapixels(Image.MAX_IMAGE_PIXELS)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise EvidenceRefused("unreadable_image", name) from None


def _encode(image, pillow_format, name, target, turning_bytes, max_pixels, max_decoded_bytes):
    """Turn decoded pixels upright, into a mode the format keeps, and encode them without metadata."""
    # (A PNG may keep its EXIF after the pixels, so the orientation is known only once decoded.)
    if image.getexif().get(ORIENTATION, 1) != 1:
        _check_size(image, name, turning_bytes, max_pixels, max_decoded_bytes)
        # Turn the picture upright before the EXIF orientation tag is dropped with the rest; in
        # place, so the sideways pixels are freed at once.
        ImageOps.exif_transpose(image, in_place=True)
    upright = image.convert(target) if target != image.mode else image
    # Nothing of the file's metadata is written again: Pillow takes ICC profiles, comments and EXIF
    # from ``info`` when it saves, so ``info`` keeps only the transparency of the pixels.
    options = {key: value for key, value in upright.info.items() if key == "transparency"}
    upright.info = {}
    options.update({"quality": 90} if pillow_format in ("JPEG", "WEBP") else {"optimize": True})
    out = io.BytesIO()
    upright.save(out, format=pillow_format, **options)
    return out.getvalue()


def store(upload_dir, data, extension):
    """Write a file under a random name (two-level fan-out); returns the stored name."""
    token = secrets.token_hex(16)
    stored_name = f"{token[:2]}/{token}{extension}"
    folder = os.path.join(upload_dir, token[:2])
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(upload_dir, stored_name)
    # O_EXCL: never overwrite; the name is random, so a clash means something is badly wrong.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return stored_name


def path_for(upload_dir, stored_name):
    """The file's path; refuses anything that could leave the upload folder."""
    if not re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{32}\.(jpg|png|webp|pdf)", stored_name):
        raise ValueError("not a stored evidence name")
    return os.path.join(upload_dir, stored_name)


def safe_download_name(name, extension):
    """A download name from the seller's file name, with the extension the content really has."""
    stem = os.path.splitext(os.path.basename(name or "evidence"))[0]
    stem = re.sub(r"[^\w\u4e00-\u9fff.-]+", "_", stem).strip("._")[:80] or "evidence"
    return stem + extension
