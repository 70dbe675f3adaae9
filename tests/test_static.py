"""Static files and pages as a phone needs them: hashed names, compressed, cached for a year (issue 11, item 11)."""
import gzip
import json
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import brotli

from portal.core.vocabulary import RefundState
from portal.web import assets
from tests.conftest import htmx_headers
from tests.factories import sign_in
from tests.workflow_helpers import database, request_in

ROOT = Path(__file__).resolve().parents[1]
# Written out in full: a change to the policy must be a change to this test too.
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
          "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
BROTLI = {"Accept-Encoding": "br, gzip, deflate"}
GZIP = {"Accept-Encoding": "gzip, deflate"}


def decoded(response):
    """The body as the browser reads it, whatever the Content-Encoding."""
    encoding = response.headers.get("Content-Encoding")
    data = response.get_data()
    if encoding == "br":
        return brotli.decompress(data)
    if encoding == "gzip":
        return gzip.decompress(data)
    assert encoding is None, encoding
    return data


def static_urls(html):
    """The /static/ addresses a page links to."""
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_pages_link_static_files_by_a_hash_of_their_content(client):
    """/login links its stylesheet and scripts under names carrying a 12-hex content hash."""
    urls = static_urls(client.get("/login").text)
    assert any(re.fullmatch(r"/static/css/portal\.[0-9a-f]{12}\.css", url) for url in urls), urls
    assert any(re.fullmatch(r"/static/vendor/htmx-2\.0\.11\.min\.[0-9a-f]{12}\.js", url) for url in urls), urls
    assert any(re.fullmatch(r"/static/js/portal\.[0-9a-f]{12}\.js", url) for url in urls), urls


def test_a_hashed_static_file_is_immutable_and_brotli_or_gzip_as_asked(client):
    """htmx under its hashed name: a year's immutable cache, br or gzip as the client accepts, same bytes."""
    url = next(url for url in static_urls(client.get("/login").text) if "/vendor/htmx" in url)
    original = (ROOT / "static/vendor/htmx-2.0.11.min.js").read_bytes()
    answers = {}
    for name, headers in (("br", BROTLI), ("gzip", GZIP), ("identity", {})):
        response = client.get(url, headers=headers)
        answers[name] = response
        assert response.status_code == 200, name
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable", name
        assert "Accept-Encoding" in response.headers.get("Vary", ""), name
        assert decoded(response) == original, name
        response.close()
    assert answers["br"].headers["Content-Encoding"] == "br"
    assert answers["gzip"].headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in answers["identity"].headers
    # What the phone downloads: htmx was 51.7 KB raw.
    assert int(answers["br"].headers["Content-Length"]) < 20_000


def test_static_files_keep_the_strict_policy_and_plain_names_are_not_immutable(client):
    """A static file carries the CSP and nosniff; under its plain name it is cached an hour, not forever."""
    response = client.get("/static/css/portal.css", headers=BROTLI)
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "immutable" not in response.headers["Cache-Control"]
    assert decoded(response) == (ROOT / "static/css/portal.css").read_bytes()
    response.close()


def test_html_pages_go_out_compressed_with_the_policy_unchanged(app, client):
    """A signed-in page answers br (or gzip) when accepted, with Vary: Accept-Encoding and the same CSP."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.UNDER_REVIEW)
    sign_in(client, seller)
    for headers, encoding in ((BROTLI, "br"), (GZIP, "gzip")):
        response = client.get(f"/refunds/{refund.id}", headers=headers)
        assert response.status_code == 200
        assert response.headers["Content-Encoding"] == encoding
        assert "Accept-Encoding" in response.headers["Vary"]
        assert response.headers["Content-Security-Policy"] == POLICY
        assert response.headers["Cache-Control"] == "private, no-store"
        html = decoded(response).decode("utf-8")
        assert "<html" in html and f'data-refund-state="{RefundState.UNDER_REVIEW}"' in html
    plain = client.get("/login")
    assert "Content-Encoding" not in plain.headers and b"<html" in plain.get_data()


def test_an_unchanged_poll_stays_an_empty_uncompressed_204(app, client):
    """The live poll's 204 has no body and no Content-Encoding even when the client accepts brotli."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.UNDER_REVIEW)
    sign_in(client, seller)
    response = client.get(f"/refunds/{refund.id}/status?v={refund.version}",
                          headers={**htmx_headers("#refund-status"), **BROTLI})
    assert response.status_code == 204
    assert response.get_data() == b""
    assert "Content-Encoding" not in response.headers


def test_embed_js_keeps_its_fixed_address_and_headers(client):
    """Other sites load /embed.js by that address: CORS for all and an hour's cache, as before."""
    response = client.get("/embed.js", headers=BROTLI)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert decoded(response) == (ROOT / "static/js/embed.js").read_bytes()
    response.close()


def _build(source, builds):
    """One worker's startup build (a separate process, as gunicorn's workers are)."""
    return str(assets.build_static(Path(source), Path(builds)))


def test_workers_starting_at_once_share_one_complete_build(tmp_path):
    """Four processes building at once end with one build folder, a full manifest and no leftovers."""
    source = tmp_path / "static"
    (source / "css").mkdir(parents=True)
    (source / "css/site.css").write_text("body { color: #222; }\n" * 200, encoding="utf-8")
    (source / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'></svg>\n", encoding="utf-8")
    builds = tmp_path / "builds"
    with ProcessPoolExecutor(4) as pool:
        folders = set(pool.map(_build, [source] * 4, [builds] * 4))
    assert len(folders) == 1
    assert [path.name for path in builds.iterdir()] == [Path(next(iter(folders))).name]
    manifest = json.loads((Path(next(iter(folders))) / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest) == {"css/site.css", "logo.svg"}
    served = Path(next(iter(folders))) / "files"
    assert (served / manifest["css/site.css"]).read_bytes() == (source / "css/site.css").read_bytes()
    assert gzip.decompress((served / (manifest["css/site.css"] + ".gz")).read_bytes()).startswith(b"body")

    (source / "css/site.css").write_text("body { color: #000; }\n" * 200, encoding="utf-8")
    rebuilt = assets.build_static(source, builds)
    changed = json.loads((rebuilt / "manifest.json").read_text(encoding="utf-8"))
    assert str(rebuilt) not in folders
    assert changed["css/site.css"] != manifest["css/site.css"]
    assert changed["logo.svg"] == manifest["logo.svg"]
