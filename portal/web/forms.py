"""The base of every form, and the button-only form."""
from flask_wtf import FlaskForm


class Form(FlaskForm):
    """Every form of the portal: CSRF-protected, and the one place shared input rules go."""


class EmptyForm(Form):
    """A button-only form: it carries the CSRF token and nothing else."""
