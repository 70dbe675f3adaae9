"""Signing in and out, and who the session's user is."""
import math

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
from portal.core.clock import utcnow
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
    form = LoginForm(next=safe_next(request.args.get("next")) or "")
    return render_template("auth/login.html", form=form)


@bp.post("/login")
def login_submit():
    """Check the credentials, throttling repeated failures per account and per address."""
    form = LoginForm()
    if not form.validate():
        return render_template("auth/login.html", form=form), 422
    address = request.remote_addr or "unknown"
    username = form.username.data
    gate = account_service.begin_attempt(username, address,
                                         account_service.ThrottlePolicy.from_config(current_app.config))
    if gate.retry_at is not None:
        form.password.errors.append(
            _("Too many failed sign-ins. For your safety, try again after %(time)s.",
              time=format_time(gate.retry_at, "medium")))
        wait = max(1, math.ceil((gate.retry_at - utcnow()).total_seconds()))
        return render_template("auth/login.html", form=form), 429, {"Retry-After": str(wait)}
    user = account_service.authenticate(username, form.password.data)
    account_service.finish_attempt(gate.attempt_id, succeeded=user is not None)
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
