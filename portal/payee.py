"""Payee details (收款信息) and the shop contact: what a payout needs to reach the seller."""
import re

from flask import Blueprint, current_app, flash, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from portal import eligibility, htmx, payouts, refunding
from portal.db import utcnow, write_transaction
from portal.models import PayeeAccount, PayeeChange, Shop, User
from portal.web import current_language, require_seller, signed_in_only

bp = Blueprint("payee", __name__, url_prefix="/payee")

ACCOUNT_TYPES = [("CORPORATE", _l("Company bank account (对公账户)")),
                 ("PERSONAL", _l("Personal bank account (个人账户)"))]


class PayeeForm(FlaskForm):
    """Holder, account type, bank and number; the number may be left empty to keep the current one."""

    holder_name = StringField(_l("Account holder"), validators=[DataRequired(), Length(max=100)])
    account_type = RadioField(_l("Account type"), choices=ACCOUNT_TYPES, validators=[DataRequired()])
    bank_name = StringField(_l("Bank and branch"), validators=[DataRequired(), Length(max=100)])
    # No Optional(): it would stop the chain on an empty field, before validate_account_number can
    # insist on a number when none is on file yet.
    account_number = StringField(_l("Account number"), validators=[Length(max=40)])

    def __init__(self, *args, entity_name="", has_number=False, **kwargs):
        """Remember what the checks compare against."""
        super().__init__(*args, **kwargs)
        self.entity_name = entity_name
        self.has_number = has_number

    def validate_holder_name(self, field):
        """The holder must be the shop's registered entity, or the bank returns the payout."""
        if eligibility.normalise_name(field.data) != eligibility.normalise_name(self.entity_name):
            raise ValidationError(_("The holder must be your shop's registered entity: “%(entity)s”.",
                                    entity=self.entity_name))

    def validate_account_number(self, field):
        """8 to 30 digits (spaces allowed while typing); required when none is on file yet."""
        digits = re.sub(r"[\s-]", "", field.data or "")
        if not digits:
            if not self.has_number:
                raise ValidationError(_("Enter the account number."))
            return
        if not digits.isdigit() or not 8 <= len(digits) <= 30:
            raise ValidationError(_("An account number has 8 to 30 digits."))
        field.data = digits


class ProfileForm(FlaskForm):
    """Who support contacts about a refund."""

    contact_name = StringField(_l("Contact person"), validators=[DataRequired(), Length(max=60)])
    contact_phone = StringField(_l("Contact phone"), validators=[
        DataRequired(), Regexp(r"^\+?[\d\s-]{6,20}$", message=_l("Enter a phone number (digits only)."))])
    email = StringField(_l("E-mail for notifications (optional)"), validators=[
        Optional(), Length(max=200),
        Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Enter an e-mail address like name@example.com."))])


def _page(shop, payee, payee_form=None, profile_form=None, status=200):
    """Render the payee page with whichever forms are being edited."""
    payee_form = payee_form or PayeeForm(obj=payee, entity_name=shop.entity_name,
                                         has_number=payee is not None, formdata=None)
    if payee is not None and payee_form.account_number.data == payee.account_number:
        payee_form.account_number.data = ""  # the full number is never sent back to the browser
    profile_form = profile_form or ProfileForm(obj=shop, formdata=None, email=current_user.email or "")
    return htmx.render("payee/edit.html", None, status=status, shop=shop, payee=payee,
                       payee_form=payee_form, profile_form=profile_form,
                       last_change=PayeeChange.latest_at(shop.id))


@bp.get("")
def edit_payee():
    """The current payee details (number masked), the form to change them, and the contact."""
    shop_id = require_seller()
    shop = Shop.get_by_id(shop_id)
    return _page(shop, PayeeAccount.get_or_none(PayeeAccount.shop == shop_id))


@bp.post("")
def save_payee():
    """Save new payee details and record the change."""
    shop_id = require_seller()
    shop = Shop.get_by_id(shop_id)
    payee = PayeeAccount.get_or_none(PayeeAccount.shop == shop_id)
    form = PayeeForm(entity_name=shop.entity_name, has_number=payee is not None)
    if not form.validate():
        return _page(shop, payee, payee_form=form, status=422)
    now = utcnow()
    with write_transaction():
        payee = PayeeAccount.get_or_none(PayeeAccount.shop == shop_id)
        number = form.account_number.data or (payee.account_number if payee else "")
        new_values = {"holder_name": form.holder_name.data.strip(), "account_type": form.account_type.data,
                      "bank_name": form.bank_name.data.strip(), "account_number": number}
        if payee is None:
            payee = PayeeAccount.create(shop=shop_id, updated_at=now, **new_values)
            summary = "created: " + _describe(new_values)
        else:
            old_values = {key: getattr(payee, key) for key in new_values}
            if old_values == new_values:
                flash(_("Nothing changed."))
                return htmx.see_other(url_for("payee.edit_payee"))
            PayeeAccount.update(updated_at=now, **new_values).where(PayeeAccount.id == payee.id).execute()
            summary = _describe(old_values) + " -> " + _describe(new_values)
        PayeeChange.create(shop=shop_id, changed_by=current_user.id, changed_at=now, summary=summary)
    flash(_("Payee details saved. Refunds are paid to this account from now on."))
    # A payout that failed on the old details is tried again on the new ones straight away.
    if payouts.retry_after_payee_fix(shop_id, current_user, refunding.policy_from(current_app.config)) is not None:
        flash(_("A new payout attempt has started for your refund."))
    return htmx.see_other(url_for("payee.edit_payee"))


@bp.post("/profile")
def save_profile():
    """Save the shop's contact person and phone."""
    shop_id = require_seller()
    shop = Shop.get_by_id(shop_id)
    form = ProfileForm()
    if not form.validate():
        return _page(shop, PayeeAccount.get_or_none(PayeeAccount.shop == shop_id), profile_form=form,
                     status=422)
    with write_transaction():
        (Shop.update(contact_name=form.contact_name.data.strip(), contact_phone=form.contact_phone.data.strip())
         .where(Shop.id == shop_id).execute())
        # E-mails about refunds go to this address, in the language the seller is using now.
        (User.update(email=(form.email.data or "").strip() or None, locale=current_language())
         .where(User.id == current_user.id).execute())
    flash(_("Contact details saved."))
    return htmx.see_other(url_for("payee.edit_payee") + "#profile")


def _describe(values):
    """Payee values for the change record, the account number masked to its last four digits."""
    number = values["account_number"]
    return (f"{values['holder_name']} / {values['account_type']} / {values['bank_name']} / "
            f"****{number[-4:]}")


bp.before_request(signed_in_only)
