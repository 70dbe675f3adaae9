"""Payee details against the database: save them with a change record, the contact, and reveals."""
from portal.accounts.models import User
from portal.audit import service as audit_service
from portal.core.clock import utcnow
from portal.core.db import lock_for_update, write_transaction
from portal.payee.models import PayeeAccount, PayeeChange
from portal.shops.models import Shop


def save_payee(shop_id, user, holder_name, account_type, bank_name, account_number, now=None):
    """Save the shop's payee details and record the change; False when nothing changed.

    An empty ``account_number`` keeps the number on file.
    """
    now = now or utcnow()
    with write_transaction():
        # Saves for one shop take turns on its row: two first saves at once would both insert (the
        # unique shop refuses the second with an error page), and two changes would both record the
        # same "before". SQLite's write lock already makes them take turns.
        lock_for_update(Shop.select(Shop.id).where(Shop.id == shop_id)).get()
        payee = PayeeAccount.get_or_none(PayeeAccount.shop == shop_id)
        number = account_number or (payee.account_number if payee else "")
        new_values = {"holder_name": holder_name, "account_type": account_type, "bank_name": bank_name,
                      "account_number": number}
        if payee is None:
            PayeeAccount.create(shop=shop_id, updated_at=now, **new_values)
            summary = "created: " + _describe(new_values)
        else:
            old_values = {key: getattr(payee, key) for key in new_values}
            if old_values == new_values:
                return False
            PayeeAccount.update(updated_at=now, **new_values).where(PayeeAccount.id == payee.id).execute()
            summary = _describe(old_values) + " -> " + _describe(new_values)
        PayeeChange.create(shop=shop_id, changed_by=user.id, changed_at=now, summary=summary)
    return True


def save_profile(shop_id, user, contact_name, contact_phone, email, locale):
    """Save the shop's contact, and where (and in which language) the user's e-mails go."""
    with write_transaction():
        Shop.update(contact_name=contact_name, contact_phone=contact_phone).where(Shop.id == shop_id).execute()
        User.update(email=email, locale=locale).where(User.id == user.id).execute()


def record_reveal(user, payee, request_id=None):
    """Staff saw the full account number: the audit log says who, and for which request."""
    with write_transaction():
        audit_service.record(user, "payee.reveal", request_id, payee.shop_id, account=payee.masked_number)


def _describe(values):
    """Payee values for the change record, the account number masked to its last four digits."""
    number = values["account_number"]
    return (f"{values['holder_name']} / {values['account_type']} / {values['bank_name']} / "
            f"****{number[-4:]}")
