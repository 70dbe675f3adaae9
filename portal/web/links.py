"""Where a link in a message really goes, read the way a browser reads it (no Flask here).

The WHATWG URL standard is what browsers follow, and it differs from ``urllib``: a backslash is
a slash in http(s) addresses (``https://evil.example\\@portal/`` goes to ``evil.example``), tabs
and line breaks inside an address are dropped, ``https:evil.example`` is ``https://evil.example/``,
hosts are percent-decoded and IDNA-mapped, and IPv4 hosts may be written in hex or as one number.
``ada-url`` implements that standard (it is the parser inside Node.js), so nothing here re-derives it.
"""
import dataclasses
from urllib.parse import unquote

import ada_url

WEB_SCHEMES = ("http:", "https:")


@dataclasses.dataclass(frozen=True)
class OutsideLink:
    """An http(s) address as a browser would follow it."""

    href: str  # the normalised address: where "Continue" sends the browser
    host: str  # the host the browser looks up (punycode for an international name)
    host_unicode: str  # the same host in the script a person reads
    userinfo: str  # whatever came before an "@": shown, because it is made to look like a host
    secure: bool

    @property
    def international(self):
        """True when the host is shown differently in Unicode than on the wire (``xn--``)."""
        return self.host_unicode != self.host


def read_link(text):
    """The address ``text`` leads a browser to, or None when a browser would not open it as a web page."""
    try:
        url = ada_url.URL(text)
    except ValueError:
        return None
    if url.protocol not in WEB_SCHEMES or not url.hostname:
        return None
    host = url.hostname
    host_unicode = host if host.startswith("[") else ada_url.idna_to_unicode(host)
    userinfo = url.username + (":" + url.password if url.password else "")
    # Shown decoded (``%40`` as ``@``) because a person reads it; it is never used to fetch anything.
    return OutsideLink(href=url.href, host=host, host_unicode=host_unicode or host,
                       userinfo=unquote(userinfo), secure=url.protocol == "https:")


def host_of(netloc):
    """The host name of this portal's own ``Host`` header, read by the same rules as links."""
    link = read_link(f"http://{netloc}/")
    return link.host if link else None
