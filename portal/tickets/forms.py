"""The seller's ticket forms, and the one check every evidence upload passes (sellers' and staff's)."""
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, MultipleFileField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from portal.tickets import evidence
from portal.web.forms import Form

REFUSALS = {
    "empty": _l("“%(name)s” is empty."),
    "too_large": _l("“%(name)s” is larger than %(limit)s MB."),
    "unsupported_type": _l("“%(name)s” is not a JPEG, PNG, WebP or PDF file (judged by its content, not its name)."),
    "too_many_pixels": _l("“%(name)s” has more pixels than we can take (at most %(megapixels)s megapixels). "
                          "Send a smaller picture or a screenshot."),
    "unreadable_image": _l("“%(name)s” looks like an image but cannot be read; it may be damaged or disguised."),
    "pdf_active_content": _l("“%(name)s” is a PDF with scripts or embedded files, which we cannot accept."),
    "pdf_unreadable": _l("“%(name)s” is a damaged PDF that cannot be read."),
}


class TicketForm(Form):
    """A new ticket: category, optional refund request, the first message and evidence files."""

    category = SelectField(_l("What is it about?"), validators=[DataRequired()])
    refund_request = SelectField(_l("Refund request"), validators=[Optional()])
    subject = StringField(_l("Subject"), validators=[DataRequired(_l("Give the ticket a short subject.")),
                                                     Length(max=120)])
    message = TextAreaField(_l("Message"), validators=[DataRequired(_l("Write what happened.")),
                                                       Length(max=5000)])
    files = MultipleFileField(_l("Evidence files (证明材料)"))
    idempotency_key = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9a-f]{32}$")])
    dispute = HiddenField(validators=[Optional(), Regexp(r"^\d{1,12}$")])
    risk_flag = HiddenField(validators=[Optional(), Regexp(r"^\d{1,12}$")])


class ReplyForm(Form):
    """A reply in the thread, with optional files."""

    message = TextAreaField(_l("Your reply"), validators=[DataRequired(_l("Write your reply.")), Length(max=5000)])
    files = MultipleFileField(_l("Add files"))


def cleaned_files(field):
    """The field's uploads checked and cleaned, or None with the reasons put beside the field."""
    config = current_app.config
    limit = int(config["EVIDENCE_MAX_BYTES"])
    uploads = [upload for upload in (field.data or []) if upload and upload.filename]
    if len(uploads) > int(config["EVIDENCE_MAX_FILES"]):
        field.errors = [*field.errors, _("At most %(count)s files per message.", count=config["EVIDENCE_MAX_FILES"])]
        return None
    cleaned, errors = [], []
    for upload in uploads:
        data = upload.stream.read(limit + 1)
        try:
            content, content_type, extension = evidence.clean(
                data, upload.filename, limit, int(config["EVIDENCE_MAX_PIXELS"]),
                int(config["EVIDENCE_MAX_DECODED_BYTES"]))
        except evidence.EvidenceRefused as refused:
            errors.append(str(REFUSALS[refused.code]) % {"name": upload.filename, "limit": limit // (1024 * 1024),
                                                         **refused.params})
            continue
        cleaned.append((content, content_type, extension, upload.filename))
    if errors:
        field.errors = [*field.errors, *errors,
                        _("Nothing was sent. Your text is kept; choose the files again.")]
        return None
    return cleaned


