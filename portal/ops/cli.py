"""Operator commands: ``flask --app portal <command>``."""
import datetime

import click
from flask import current_app
from peewee import IntegrityError

from portal.accounts import service as account_service
from portal.accounts.models import User
from portal.core.calendar import CalendarOverride
from portal.core.db import db, migrate, write_transaction
from portal.core.vocabulary import DECISION_REASON_KINDS, Role
from portal.ops import demo, seed
from portal.ops.tick import tick_command
from portal.refunds.models import ReasonCode
from portal.shops.models import Shop


@click.command("init-db")
def init_db_command():
    """Create or upgrade the schema and add missing reference data (safe to run again)."""
    with db.connection_context():
        applied = migrate()
        with db.atomic():
            added = seed.reference_data()
    click.echo(f"Database ready ({len(applied)} migration(s) applied, {added} reason code(s) and canned "
               "replies added).")


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(tuple(Role)), default=Role.SELLER, show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--shop-name", help="For a seller: the shop's name (a new shop is created).")
@click.option("--entity-name", help="For a seller: the shop's registered entity (主体名称).")
@click.option("--shop-id", type=int, help="For a seller: an existing shop to sign in for.")
def create_user_command(username, role, password, shop_name, entity_name, shop_id):
    """Create a seller, agent or finance account."""
    # The sign-in form strips what is typed: a name with outer spaces (or none at all) could never sign in.
    username = username.strip()
    if not username:
        raise click.BadParameter("must not be empty", param_hint="USERNAME")
    if len(password) < 10:
        raise click.BadParameter("use at least 10 characters", param_hint="--password")
    with db.connection_context(), write_transaction():
        shop = None
        if role == Role.SELLER:
            if shop_id is not None:
                shop = Shop.get_or_none(Shop.id == shop_id)
                if shop is None:
                    raise click.BadParameter(f"no shop {shop_id}", param_hint="--shop-id")
            elif shop_name and entity_name:
                shop = Shop.create(name=shop_name, entity_name=entity_name)
            else:
                raise click.UsageError("a seller needs --shop-id, or --shop-name and --entity-name")
        try:
            User.create(username=username, password_hash=account_service.hash_password(password), role=role,
                        display_name=username, shop=shop)
        except IntegrityError:
            raise click.ClickException(f"the username {username!r} is taken") from None
    click.echo(f"Created {role} {username}" + (f" for shop {shop.id}" if shop else "") + ".")


@click.command("demo")
def demo_command():
    """Load the demo accounts and data (safe to run again: nothing is loaded twice)."""
    with db.connection_context():
        loaded = demo.load(current_app.config)
    click.echo("Demo data loaded." if loaded else "Demo data was already loaded; nothing changed.")


@click.group("calendar")
def calendar_group():
    """The working-day calendar's operator overrides."""


@calendar_group.command("set")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.argument("kind", type=click.Choice(["workday", "off"]))
@click.option("--note", default="", help="Why, e.g. the notice it comes from.")
def calendar_set(day, kind, note):
    """Make DAY a working day or a day off, whatever the published schedule says."""
    day = day.date()
    with db.connection_context(), write_transaction():
        existing = CalendarOverride.get_or_none(CalendarOverride.day == day)
        if existing is None:
            CalendarOverride.create(day=day, is_workday=kind == "workday", note=note)
        else:
            (CalendarOverride.update(is_workday=kind == "workday", note=note)
             .where(CalendarOverride.id == existing.id).execute())
    click.echo(f"{day.isoformat()} is now a {'working day' if kind == 'workday' else 'day off'}.")


@calendar_group.command("unset")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
def calendar_unset(day):
    """Remove the override of DAY: the published schedule applies again."""
    with db.connection_context():
        removed = CalendarOverride.delete().where(CalendarOverride.day == day.date()).execute()
    click.echo("Removed." if removed else "There was no override for that day.")


@calendar_group.command("list")
def calendar_list():
    """Show every override."""
    with db.connection_context():
        rows = list(CalendarOverride.select().order_by(CalendarOverride.day))
    for row in rows:
        kind = "workday" if row.is_workday else "off"
        day = row.day.isoformat() if isinstance(row.day, datetime.date) else row.day
        click.echo(f"{day}  {kind:8} {row.note}")
    if not rows:
        click.echo("No overrides.")


@click.group("reasons")
def reasons_group():
    """Reason codes and their seller-facing texts (both languages)."""


@reasons_group.command("list")
@click.option("--kind", type=click.Choice(DECISION_REASON_KINDS), help="Only codes of this kind.")
def reasons_list(kind):
    """Show every reason code with its labels."""
    with db.connection_context():
        query = ReasonCode.select().order_by(ReasonCode.kind, ReasonCode.sort_order, ReasonCode.code)
        if kind:
            query = query.where(ReasonCode.kind == kind)
        for reason in query:
            state = "" if reason.active else "  (disabled)"
            click.echo(f"{reason.kind:15} {reason.code:22} {reason.label_zh} / {reason.label_en}{state}")


@reasons_group.command("set")
@click.argument("code")
@click.option("--kind", type=click.Choice(DECISION_REASON_KINDS), help="Required for a new code.")
@click.option("--label-zh")
@click.option("--label-en")
@click.option("--message-zh", help="The seller message template in Chinese.")
@click.option("--message-en", help="The seller message template in English.")
def reasons_set(code, kind, label_zh, label_en, message_zh, message_en):
    """Add a reason code or change its texts (only the options given change)."""
    given = {"kind": kind, "label_zh": label_zh, "label_en": label_en, "message_zh": message_zh,
             "message_en": message_en}
    changes = {key: value for key, value in given.items() if value is not None}
    with db.connection_context(), write_transaction():
        reason = ReasonCode.get_or_none(ReasonCode.code == code)
        if reason is None:
            missing = [name for name in ("kind", "label_zh", "label_en") if name not in changes]
            if missing:
                raise click.UsageError("a new code needs " + ", ".join("--" + m.replace("_", "-") for m in missing))
            ReasonCode.create(code=code, **changes)
            click.echo(f"Added {code}.")
            return
        if changes:
            ReasonCode.update(**changes).where(ReasonCode.id == reason.id).execute()
        click.echo(f"Updated {code}.")


@reasons_group.command("disable")
@click.argument("code")
def reasons_disable(code):
    """Stop offering a code (events that used it keep their label)."""
    _set_reason_active(code, False)


@reasons_group.command("enable")
@click.argument("code")
def reasons_enable(code):
    """Offer a disabled code again."""
    _set_reason_active(code, True)


def _set_reason_active(code, active):
    """Enable or disable one code."""
    with db.connection_context():
        changed = ReasonCode.update(active=active).where(ReasonCode.code == code).execute()
    if not changed:
        raise click.ClickException(f"no reason code {code!r}")
    click.echo(f"{code} {'enabled' if active else 'disabled'}.")


def init_app(app):
    """Register the operator commands."""
    for command in (init_db_command, create_user_command, demo_command, calendar_group, tick_command, reasons_group):
        app.cli.add_command(command)
