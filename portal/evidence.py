"""Evidence files: decide the type from the content, strip image metadata, store with random names.

No Flask here. What a file *is* comes from its first bytes, never from its name or the browser's
claim. Images are decoded and encoded again, which drops EXIF (location, device) and anything
appended to or hidden in the file (a polyglot keeps only its pixels). PDFs cannot be re-encoded
safely here, so they are accepted only without active content and are always served as downloads.
"""
import io
import os
import re
import secrets

from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow refuses images whose pixel count suggests a decompression bomb.
Image.MAX_IMAGE_PIXELS = 40_000_000

KINDS = {
    "jpeg": ("image/jpeg", ".jpg", "JPEG"),
    "png": ("image/png", ".png", "PNG"),
    "webp": ("image/webp", ".webp", "WEBP"),
    "pdf": ("application/pdf", ".pdf", None),
}

# PDF features that run something or carry other files; a seller's evidence never needs them.
_PDF_ACTIVE = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFile|RichMedia|OpenAction|AA|XFA)\b")
# A PDF name may spell any byte as #xx (``/J#61vaScript`` is ``/JavaScript`` to a reader).
_PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


class EvidenceRefused(ValueError):
    """A file that cannot be accepted; ``code`` names why (for the message beside the field)."""

    def __init__(self, code, name=""):
        super().__init__(code)
        self.code = code
        self.name = name


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


def clean(data, name, max_bytes):
    """Check one file and return ``(clean bytes, content type, extension)``, or raise ``EvidenceRefused``."""
    if not data:
        raise EvidenceRefused("empty", name)
    if len(data) > max_bytes:
        raise EvidenceRefused("too_large", name)
    kind = sniff(data)
    if kind is None:
        raise EvidenceRefused("unsupported_type", name)
    content_type, extension, pillow_format = KINDS[kind]
    if kind == "pdf":
        names = _PDF_NAME_ESCAPE.sub(lambda escape: bytes([int(escape.group(1), 16)]), data)
        if b"%%EOF" not in data[-2048:] or _PDF_ACTIVE.search(names):
            raise EvidenceRefused("pdf_active_content", name)
        return data, content_type, extension
    return _reencode(data, pillow_format, name), content_type, extension


def _reencode(data, pillow_format, name):
    """Decode an image and encode its pixels into a brand-new image: no metadata survives."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != pillow_format:
                raise EvidenceRefused("unsupported_type", name)
            image.load()
            # Turn the picture upright before the EXIF orientation tag is dropped with the rest.
            upright = ImageOps.exif_transpose(image)
            mode = "RGB" if pillow_format == "JPEG" else ("RGBA" if upright.mode in ("P", "LA", "RGBA") else "RGB")
            pixels = Image.new(mode, upright.size)
            pixels.paste(upright.convert(mode))
            out = io.BytesIO()
            options = {"quality": 90} if pillow_format in ("JPEG", "WEBP") else {"optimize": True}
            pixels.save(out, format=pillow_format, **options)
            return out.getvalue()
    except EvidenceRefused:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise EvidenceRefused("unreadable_image", name) from None


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
