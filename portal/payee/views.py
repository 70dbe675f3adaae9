"""Payee details (收款信息) and the shop contact: what a payout needs to reach the seller."""
import unicodedata

from flask import Blueprint, current_app, flash, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import RadioField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from portal.core.vocabulary import AccountType
from portal.payee import service as payee_service
from portal.payee.models import PayeeAccount, PayeeChange
from portal.payouts import service as payout_service
from portal.refunds import prechecks
from portal.refunds import service as refund_service
from portal.shops.models import Shop
from portal.web import htmx
from portal.web.forms import Form
from portal.web.guards import require_seller, signed_in_only
from portal.web.locale import current_language

bp = Blueprint("payee", __name__, url_prefix="/payee")

ACCOUNT_TYPES = [(AccountType.CORPORATE, _l("Company bank account (对公账户)")),
                 (AccountType.PERSONAL, _l("Personal bank account (个人账户)"))]


class PayeeForm(Form):
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
        self.digits_converted = False  # the number was typed in digits other than ASCII 0-9

    def validate_holder_name(self, field):
        """The holder must be the shop's registered entity, or the bank returns the payout."""
        if prechecks.normalise_name(field.data) != prechecks.normalise_name(self.entity_name):
            raise ValidationError(_("The holder must be your shop's registered entity: “%(entity)s”.",
                                    entity=self.entity_name))

    def validate_account_number(self, field):
        """8 to 30 digits (spaces allowed while typing); required when none is on file yet."""
        digits, foreign = account_digits(field.data or "")
        if foreign:
            raise ValidationError(_("Type the account number with the digits 0 to 9: the bank cannot take "
                                    "“%(characters)s”.", characters="".join(dict.fromkeys(foreign))))
        if not digits:
            if not self.has_number:
                raise ValidationError(_("Enter the account number."))
            return
        if not digits.isdigit() or not 8 <= len(digits) <= 30:
            raise ValidationError(_("An account number has 8 to 30 digits."))
        # What is saved, and compared with what is on file: the ASCII digits alone.
        self.digits_converted = digits != "".join(ch for ch in field.data if not _is_separator(ch))
        field.data = digits


def _is_separator(character):
    """Spaces (the ideographic one too) and hyphens (full-width too) that people type to group digits."""
    return character.isspace() or unicodedata.normalize("NFKC", character) == "-"


def account_digits(text):
    """``text`` as ASCII digits, without separators, and the number-like characters that cannot be.

    A digit is turned into ASCII when it is a decimal digit (Unicode category Nd) that NFKC maps to
    0-9: full-width ０-９ from a Chinese input method, mathematical ones. Other numerals are refused,
    not guessed at: superscripts and circled digits (² ①) mean an exponent or a footnote, not a
    digit, though NFKC maps them to one; Arabic-Indic, Devanagari and other scripts' digits are
    digits of their own that NFKC leaves alone and no Chinese bank takes. Letters and other
    characters are kept as typed, for the length and digit check to refuse.
    """
    kept, foreign = [], []
    for character in text:
        if _is_separator(character):
            continue
        ascii_form = unicodedata.normalize("NFKC", character)
        if unicodedata.category(character) == "Nd" and len(ascii_form) == 1 and ascii_form in "0123456789":
            kept.append(ascii_form)
        elif character.isnumeric():
            foreign.append(character)
        else:
            kept.append(character)
    return "".join(kept), foreign


class ProfileForm(Form):
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
    changed = payee_service.save_payee(shop_id, current_user, form.holder_name.data.strip(), form.account_type.data,
                                       form.bank_name.data.strip(), form.account_number.data)
    if not changed:
        flash(_("Nothing changed."))
        return htmx.see_other(url_for("payee.edit_payee"))
    flash(_("Payee details saved. Refunds are paid to this account from now on."))
    if form.digits_converted:
        flash(_("The account number was saved in the digits 0 to 9: it ends in %(last_four)s.",
                last_four=form.account_number.data[-4:]))
    # A payout that failed on the old details is tried again on the new ones straight away.
    policy = refund_service.policy_from(current_app.config)
    if payout_service.retry_after_payee_fix(shop_id, current_user, policy) is not None:
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
    # E-mails about refunds go to this address, in the language the seller is using now.
    payee_service.save_profile(shop_id, current_user, form.contact_name.data.strip(), form.contact_phone.data.strip(),
                               (form.email.data or "").strip() or None, current_language())
    flash(_("Contact details saved."))
    return htmx.see_other(url_for("payee.edit_payee") + "#profile")


bp.before_request(signed_in_only)
