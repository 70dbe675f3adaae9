"""The language a widget shows itself in: Chinese, English, or the viewer's browser (AUTO).

Existing widgets keep what they showed before: Chinese unless the snippet asks with ``?lang=``.
"""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column('widget', 'language', CharField(default='zh_CN')))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('widget', 'language'))
