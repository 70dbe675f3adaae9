"""Signing in and out."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import format_time
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from portal import accounts
from portal.db import write_transaction
from portal.forms import EmptyForm

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=150)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


def safe_next(target):
    """Only a path on this site is a place to go after signing in (no open redirect)."""
    if not target:
        return None
    # Control characters would break the Location header (a 500), and browsers read a backslash
    # as a slash ("/\\evil.example" is "//evil.example" to them): neither belongs in a local path.
    if any(ord(char) < 32 or char in "\\\x7f" for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def home_for(user):
    """Where a user lands after signing in."""
    return url_for("deposit.show_deposit") if user.role == "seller" else url_for("desk.show_queue")


@bp.get("/login")
def login():
    """The sign-in form."""
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm(next=request.args.get("next", ""))
    return render_template("auth/login.html", form=form)


@bp.post("/login")
def login_submit():
    """Check the credentials, throttling repeated failures per account and per address."""
    form = LoginForm()
    if not form.validate():
        return render_template("auth/login.html", form=form), 422
    config = current_app.config
    address = request.remote_addr or "unknown"
    username = form.username.data
    blocked_until = accounts.throttled_until(
        username, address, config["LOGIN_WINDOW_MINUTES"], config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
        config["LOGIN_MAX_FAILURES_PER_ADDRESS"])
    if blocked_until is not None:
        form.password.errors.append(
            _("Too many failed sign-ins. For your safety, try again after %(time)s.",
              time=format_time(blocked_until, "short")))
        return render_template("auth/login.html", form=form), 429
    user = accounts.authenticate(username, form.password.data)
    with write_transaction():
        accounts.record_attempt(username, address, succeeded=user is not None)
    if user is None:
        form.password.errors.append(_("The username or password is wrong."))
        return render_template("auth/login.html", form=form), 422
    # A fresh session on sign-in: nothing set before it (by anyone) survives.
    session.clear()
    login_user(user)
    return redirect(safe_next(form.next.data) or home_for(user), code=303)


@bp.get("/logout")
def logout():
    """A page with the sign-out button (signing out changes state, so it is a POST)."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return render_template("auth/logout.html", form=EmptyForm())


@bp.post("/logout")
def logout_submit():
    """Sign out and forget the session."""
    logout_user()
    session.clear()
    flash(_("You have signed out."))
    return redirect(url_for("auth.login"), code=303)
