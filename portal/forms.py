"""Forms shared by several areas."""
from flask_wtf import FlaskForm


class EmptyForm(FlaskForm):
    """A button-only form: it carries the CSRF token and nothing else."""
