"""The few htmx decisions every view shares: fragment or page, and how to redirect."""
from flask import make_response, redirect, render_template, request
from jinja2_fragments.flask import render_block


def is_fragment_request():
    """True when htmx asks for a piece of a page (not a boosted click or a history restore)."""
    headers = request.headers
    return (headers.get("HX-Request") == "true"
            and headers.get("HX-Boosted") != "true"
            and headers.get("HX-History-Restore-Request") != "true")


def render(template, block=None, status=200, **context):
    """Render the block for an htmx request and the whole page otherwise."""
    if block and is_fragment_request():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    return make_response(body, status)


def see_other(url):
    """After a non-GET: a 303 for a browser, ``HX-Redirect`` for htmx (a 3xx would be followed blindly
    and its page swapped into the target)."""
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=303)


def add_vary(response):
    """The same URL answers a page or a fragment, so caches must key on ``HX-Request``."""
    response.vary.add("HX-Request")
    return response
