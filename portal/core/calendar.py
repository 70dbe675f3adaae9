"""The working-day calendar as the portal uses it: the mainland schedule plus the operators' overrides."""
from peewee import BooleanField, DateField, DateTimeField, TextField

from portal.core.clock import utcnow
from portal.core.db import BaseModel
from portal.core.workdays import WorkCalendar


class CalendarOverride(BaseModel):
    """An operator's correction to the working-day calendar: an extra day off or an extra day on."""

    day = DateField(unique=True)
    is_workday = BooleanField()
    note = TextField(default="")
    created_at = DateTimeField(default=utcnow)

    @classmethod
    def as_mapping(cls):
        """``{date: is_workday}`` for the working-day calendar."""
        return dict(cls.select(cls.day, cls.is_workday).tuples())


def working_calendar():
    """The working-day calendar with the operators' overrides, read now."""
    return WorkCalendar(CalendarOverride.as_mapping())
