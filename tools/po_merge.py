"""A git merge driver for the translation catalogues: the union of both sides' messages.

Two branches that each add strings (and their Chinese) touch neighbouring lines of the same
catalogue, which git's line merge reports as a conflict although nothing contradicts. This driver
merges by message instead: every id either side has is kept; where both sides changed one id's
translation differently, ours wins and the id is printed so someone can look. Afterwards run
``tools/i18n.py all`` to refresh the template and the compiled .mo. Set it up once per clone:

    git config merge.pocatalog.driver "$PWD/.venv/bin/python $PWD/tools/po_merge.py %O %A %B"

(``.gitattributes`` names the files it handles.)
"""
import io
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po


def _read(path):
    """A catalogue from a .po/.pot path (an empty one when git passes an empty base)."""
    with open(path, "rb") as source:
        return read_po(source)


def merge(base, ours, theirs):
    """Add their messages to ours; returns the ids whose translations clash."""
    clashes = []
    for message in theirs:
        if not message.id:
            continue
        mine = ours.get(message.id, message.context)
        if mine is None:
            ours[message.id] = message
            continue
        original = base.get(message.id, message.context)
        if mine.string == message.string:
            continue
        if original is not None and mine.string == original.string:
            mine.string = message.string  # only their side changed it
        elif original is None or message.string != original.string:
            clashes.append(message.id)
        mine.locations = sorted(set(mine.locations) | set(message.locations))
    return clashes


def main(argv):
    """``po_merge.py BASE OURS THEIRS``: writes the merge over OURS, as git expects."""
    base_path, ours_path, theirs_path = argv[1:4]
    base = _read(base_path) if Path(base_path).stat().st_size else None
    ours, theirs = _read(ours_path), _read(theirs_path)
    clashes = merge(base if base is not None else read_po(io.BytesIO(b"")), ours, theirs)
    buffer = io.BytesIO()
    write_po(buffer, ours, sort_by_file=True, include_lineno=False, ignore_obsolete=True)
    Path(ours_path).write_bytes(buffer.getvalue())
    for msgid in clashes:
        print(f"po_merge: both sides translate {msgid!r} differently; kept ours", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
