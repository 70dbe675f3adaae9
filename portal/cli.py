"""Operator commands: ``flask --app portal <command>``."""
import datetime

import click
from flask import current_app
from peewee import IntegrityError

from portal import accounts
from portal.db import db, write_transaction
from portal.models import ROLES, SELLER, CalendarOverride, Shop, User


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default=SELLER, show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--shop-name", help="For a seller: the shop's name (a new shop is created).")
@click.option("--entity-name", help="For a seller: the shop's registered entity (主体名称).")
@click.option("--shop-id", type=int, help="For a seller: an existing shop to sign in for.")
def create_user_command(username, role, password, shop_name, entity_name, shop_id):
    """Create a seller, agent or finance account."""
    if len(password) < 10:
        raise click.BadParameter("use at least 10 characters", param_hint="--password")
    with db.connection_context(), write_transaction():
        shop = None
        if role == SELLER:
            if shop_id is not None:
                shop = Shop.get_or_none(Shop.id == shop_id)
                if shop is None:
                    raise click.BadParameter(f"no shop {shop_id}", param_hint="--shop-id")
            elif shop_name and entity_name:
                shop = Shop.create(name=shop_name, entity_name=entity_name)
            else:
                raise click.UsageError("a seller needs --shop-id, or --shop-name and --entity-name")
        try:
            User.create(username=username, password_hash=accounts.hash_password(password), role=role,
                        display_name=username, shop=shop)
        except IntegrityError:
            raise click.ClickException(f"the username {username!r} is taken") from None
    click.echo(f"Created {role} {username}" + (f" for shop {shop.id}" if shop else "") + ".")


@click.command("demo")
def demo_command():
    """Load the demo accounts and data (safe to run again: nothing is loaded twice)."""
    from portal import demo

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


def init_app(app):
    """Register the operator commands."""
    from portal.scheduler import tick_command

    for command in (create_user_command, demo_command, calendar_group, tick_command):
        app.cli.add_command(command)
