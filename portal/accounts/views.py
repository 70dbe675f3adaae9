"""Signing in and out, and who the session's user is."""
import math

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import format_time
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from portal.accounts import labels
from portal.accounts import service as account_service
from portal.accounts.models import SignInSession
from portal.core.clock import utcnow
from portal.web.extensions import login_manager
from portal.web.forms import EmptyForm, Form
from portal.web.guards import database_down, home_for, safe_next, session_token

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
    # The cookie alone is not enough: its session must still be open (signing out anywhere ends it).
    return account_service.session_user(int(user_id), session_token())


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
    session["sid"] = account_service.start_session(user, request.user_agent.string, address)
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
    """Sign out: the server-side session ends (every copy of the cookie with it), and the cookie is forgotten."""
    account_service.end_session(session_token())
    return _signed_out()


@bp.get("/account/sessions")
def list_sessions():
    """Where this account is signed in: each open session, this one marked, each with a way to end it."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    sessions = list(SignInSession.open_for(current_user.id))
    this = account_service.token_hash(session_token() or "")
    return render_template("auth/sessions.html", sessions=sessions, this_hash=this, form=EmptyForm())


@bp.post("/account/sessions/<int:session_id>/end")
def end_session(session_id):
    """End one of this account's sessions (another account's answers 404)."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    target = SignInSession.get_or_none((SignInSession.id == session_id) & (SignInSession.user == current_user.id))
    if target is None:
        abort(404)
    account_service.end_sessions(current_user.id, target.id)
    if target.token_hash == account_service.token_hash(session_token() or ""):
        return _signed_out()
    flash(_("That session is ended: whoever used it must sign in again."))
    return redirect(url_for("auth.list_sessions"), code=303)


@bp.post("/account/sessions/end-all")
def end_all_sessions():
    """Sign out everywhere: every session of this account ends, this one too."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    account_service.end_sessions(current_user.id)
    return _signed_out(_("You are signed out everywhere."))


def _signed_out(message=None):
    """Forget this browser's session and go to the sign-in page."""
    logout_user()
    session.clear()
    flash(message or _("You have signed out."))
    return redirect(url_for("auth.login"), code=303)
