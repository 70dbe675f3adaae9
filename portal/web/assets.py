"""Static files as a phone needs them: content-hashed names, gzip and brotli on disk, cached for a year.

At app creation the static folder is copied once into ``instance/static-build/<digest>/files/``: every file
under its own name and under a name carrying a hash of its content (``css/portal.3f2a9c1b7e4d.css``),
each with a ``.br`` and a ``.gz`` beside it. WhiteNoise serves that folder in front of Flask, picking
the compressed copy the browser accepts, and ``url_for('static', ...)`` hands out the hashed names,
so templates stay as they are. A hashed name never changes content, hence ``immutable``.
"""
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

from portal.web.security import CONTENT_SECURITY_POLICY

# What a browser may keep without asking again: a year, the most RFC 9111 suggests.
IMMUTABLE = "public, max-age=31536000, immutable"
# Files under their plain name (e.g. bookmarked, or /embed.js's source) may change on the next deploy.
PLAIN_MAX_AGE = 3600
MANIFEST = "manifest.json"
HASH_LENGTH = 12


def init_app(app):
    """Build (or reuse) the hashed, compressed copy of the static folder and serve it before Flask."""
    build = build_static(Path(app.static_folder), Path(app.instance_path) / "static-build")
    manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    served = build / "files"
    hashed_urls = {f"{app.static_url_path}/{name}" for name in manifest.values()}
    app.extensions["static_manifest"] = manifest

    @app.url_defaults
    def _hashed_static_name(endpoint, values):
        """``url_for('static', filename=...)`` names the content-hashed copy."""
        if endpoint == "static" and values.get("filename") in manifest:
            values["filename"] = manifest[values["filename"]]

    def _headers(headers, path, url):
        """Hashed names are immutable; the page-wide security headers, since Flask never sees these answers."""
        if url in hashed_urls:
            headers["Cache-Control"] = IMMUTABLE
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"

    app.wsgi_app = WhiteNoise(app.wsgi_app, root=str(served), prefix=app.static_url_path, max_age=PLAIN_MAX_AGE,
                              # Only /embed.js is for other sites, and Flask serves it with its own CORS header.
                              allow_all_origins=False, add_headers_function=_headers,
                              immutable_file_test=lambda path, url: url in hashed_urls)


def build_static(source, builds):
    """The build folder for ``source``'s current content, made once and atomically (several workers race)."""
    files = sorted(path for path in source.rglob("*") if path.is_file() and not path.name.startswith("."))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(source).as_posix().encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    target = builds / digest.hexdigest()[:16]
    if (target / MANIFEST).is_file():
        return target
    builds.mkdir(parents=True, exist_ok=True)
    # Built aside and renamed into place: a worker never sees half a build, and the loser of a race
    # throws its own copy away.
    scratch = Path(tempfile.mkdtemp(prefix=".building-", dir=builds))
    try:
        manifest = {}
        compressor = Compressor(quiet=True)
        for path in files:
            name = path.relative_to(source).as_posix()
            hashed = _hashed_name(name, path.read_bytes())
            for copy in (name, hashed):
                destination = scratch / "files" / copy
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, destination)
                if compressor.should_compress(copy):
                    compressor.compress(str(destination))
            manifest[name] = hashed
        (scratch / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        try:
            os.rename(scratch, target)
        except OSError:
            if not (target / MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _hashed_name(name, content):
    """``css/portal.css`` becomes ``css/portal.<hash>.css``; the hash is of the content."""
    stem, dot, suffix = name.rpartition(".")
    if not dot or "/" in suffix:
        stem, suffix = name, ""
    tag = hashlib.sha256(content).hexdigest()[:HASH_LENGTH]
    return f"{stem}.{tag}.{suffix}" if suffix else f"{stem}.{tag}"
