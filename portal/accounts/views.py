"""Signing in and out, and who the session's user is."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import format_time
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from portal.accounts import labels
from portal.accounts import service as account_service
from portal.accounts.models import User
from portal.web.extensions import login_manager
from portal.web.forms import EmptyForm, Form
from portal.web.guards import database_down, home_for, safe_next

bp = Blueprint("auth", __name__)
labels.register(bp)


@login_manager.user_loader
def load_user(user_id):
    """The signed-in user from the session, if still active."""
    if not str(user_id).isdigit():
        return None
    if database_down():
        # The outage page must not ask the unreachable database who is signed in (a second error).
        return None
    return User.get_or_none((User.id == int(user_id)) & (User.active == True))  # noqa: E712


class LoginForm(Form):
    """Username and password."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=150)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


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
    blocked_until = account_service.throttled_until(
        username, address, config["LOGIN_WINDOW_MINUTES"], config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
        config["LOGIN_MAX_FAILURES_PER_ADDRESS"])
    if blocked_until is not None:
        form.password.errors.append(
            _("Too many failed sign-ins. For your safety, try again after %(time)s.",
              time=format_time(blocked_until, "short")))
        return render_template("auth/login.html", form=form), 429
    user = account_service.authenticate(username, form.password.data)
    account_service.record_attempt(username, address, succeeded=user is not None)
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
