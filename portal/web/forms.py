"""The base of every form, the button-only form, and the shared rule for query-string text."""
from flask import abort, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage
from wtforms import FileField, HiddenField, StringField, TextAreaField

from portal.core import characters

CONTROL_CHARACTER = _l("This contains an invisible control character (for example from a copy and paste). "
                       "Delete it, or retype the text, and send again.")


class Form(FlaskForm):
    """Every form of the portal: CSRF-protected, and the one place shared input rules go.

    Text with a control character is refused here, before any validator or view reads it, for
    every field of every form, so a NUL can never reach PostgreSQL (which cannot store it: a 500)
    or SQLite (which would keep it). Text areas keep line breaks and tabs; their CR LF line breaks
    are stored as LF.
    """

    class Meta:
        """Binds every text area with the line-break filter."""

        def bind_field(self, form, unbound_field, options):
            """Bind as WTForms does, then normalise a text area's line breaks before anything reads them."""
            field = unbound_field.bind(form=form, **options)
            if isinstance(field, TextAreaField):
                field.filters = (characters.normalise_line_breaks, *field.filters)
            return field

    def validate(self, extra_validators=None):
        """Refuse control characters field by field (the message beside each), then validate as usual."""
        refused = [field for field in self if _holds_control_characters(field)]
        if not refused:
            return super().validate(extra_validators)
        if any(isinstance(field, HiddenField) for field in refused):
            # The portal fills hidden fields itself: a control character there was put in by hand,
            # and there is no visible field to put a message beside.
            abort(400)
        for field in refused:
            field.errors = [CONTROL_CHARACTER]
        # The other fields' validators do not run: some look things up in the database by the text.
        return False


def _holds_control_characters(field):
    """True when a text field's value, or an uploaded file's name, has a control character.

    Only fields whose value is kept as text: a choice must be one of its options, a number must
    parse and a checkbox is only on or off, so a control character sent to those is refused by
    their own validation and never stored.
    """
    if not isinstance(field, (StringField, FileField)):
        return False
    multiline = isinstance(field, TextAreaField)
    for value in field.raw_data or ():
        if isinstance(value, FileStorage):
            value = value.filename or ""
        if isinstance(value, str) and characters.has_control_characters(value, multiline=multiline):
            return True
    return False


def query_text(name, default=""):
    """A query-string value for lookups; a control character in it answers the 400 page.

    Forms refuse control characters beside the field; a query string has no field to show a
    message beside, and a NUL in it would make PostgreSQL fail (a 500).
    """
    value = request.args.get(name, default)
    if value and characters.has_control_characters(value):
        abort(400)
    return value


class EmptyForm(Form):
    """A button-only form: it carries the CSRF token and nothing else."""
