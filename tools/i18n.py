"""Translations: extract the English message ids, keep the Chinese (zh_CN) catalogue complete.

English is the source language (every msgid in the code is English); zh_CN, the default locale,
must translate every one of them. Run from anywhere, with the project's venv:

    .venv/bin/python tools/i18n.py extract   # code + templates -> portal/translations/messages.pot
    .venv/bin/python tools/i18n.py update    # merge it into zh_Hans_CN/LC_MESSAGES/messages.po
    # ... translate the entries with an empty msgstr (``check`` lists them) in the .po
    .venv/bin/python tools/i18n.py compile   # .po -> .mo, which Flask-Babel reads at run time
    .venv/bin/python tools/i18n.py check     # exit 1, listing every problem; 0 when complete

``all`` runs the four in turn. Where to look and which keywords mark an id (``_``, ``gettext``,
``ngettext``, ``lazy_gettext``, ``_l``, and ``N_`` in the Flask-free rules modules) is in
``babel.cfg``, which ``pybabel extract -F babel.cfg`` reads the same way. The Chinese catalogue's
folder is ``zh_Hans_CN``, not ``zh_CN``: that is Babel's name for the locale, and the only one
Flask-Babel finds (see ``po_path``).

``check`` extracts afresh from the source, so a string added to the code fails it even when nobody
ran ``extract``; it reports ids without a translation, fuzzy entries, translations that lose or
invent a ``%(name)s`` placeholder, and a .mo that does not match its .po. tests/test_i18n.py runs
it. Files are rewritten only when their content changes (header dates aside), so running the
commands twice leaves nothing to commit.
"""
import argparse
import io
import re
import sys
import tomllib
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from portal.core.settings import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "babel.cfg"
TRANSLATIONS = ROOT / "portal" / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"
SOURCE_LANGUAGE = "en"
# Every language the portal offers needs a complete catalogue, except the one the ids are written in.
LOCALES = tuple(code for code in DEFAULTS["LANGUAGES"] if code != SOURCE_LANGUAGE)
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

# A %-directive: %(name)s, %d, %%, or a stray % (which breaks Jinja's formatting of the text).
_DIRECTIVE = re.compile(r"%(?:\(\w+\))?[#0 +-]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[diouxXeEfFgGcrsa%]?")
# Header lines that change on every run: a file that differs only in these is left alone.
_VOLATILE = (b'"POT-Creation-Date:', b'"PO-Revision-Date:')


def po_path(locale):
    """Where a locale's editable catalogue lives (its .mo sits beside it).

    The folder is Babel's full name of the locale, the one Flask-Babel looks up: zh_CN parses to
    ``zh_Hans_CN``, and a ``zh_CN`` folder would never be found.
    """
    return TRANSLATIONS / str(Locale.parse(locale)) / "LC_MESSAGES" / "messages.po"


def _shown(path):
    """A path as printed: relative to the project root."""
    return path.relative_to(ROOT).as_posix()


def extract_catalog():
    """Every message id in the code and templates, as a fresh catalogue noting where each is used."""
    with CONFIG.open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config, str(CONFIG))
    catalog = Catalog(project=PROJECT["name"], version=PROJECT["version"], fuzzy=False,
                      header_comment="# Message ids (English) of the deposit refund portal.\n"
                                     "# Made by tools/i18n.py extract: do not edit, translate the .po files.")
    found = extract_from_dir(ROOT, method_map, options_map, keywords=DEFAULT_KEYWORDS,
                             strip_comment_tags=True)
    for filename, lineno, message, comments, context in found:
        catalog.add(message, None, [(Path(filename).as_posix(), lineno)], auto_comments=comments,
                    context=context)
    return catalog


def _read(path, locale=None):
    """A .po or .pot file as a catalogue."""
    with path.open("rb") as source:
        return read_po(source, locale=locale)


def _save(path, catalog):
    """Write a catalogue as .po text, unless the file already says the same apart from header dates."""
    buffer = io.BytesIO()
    # Grouped by file, in source order, without line numbers: an edit above a string does not
    # rewrite the location of every entry below it.
    write_po(buffer, catalog, sort_by_file=True, include_lineno=False, ignore_obsolete=True)
    _write_if_changed(path, buffer.getvalue())


def _write_if_changed(path, data):
    """Write ``data`` to ``path`` unless only volatile header lines would change."""
    def stable(blob):
        return [line for line in blob.splitlines() if not line.startswith(_VOLATILE)]

    if path.exists() and stable(path.read_bytes()) == stable(data):
        print(f"unchanged {_shown(path)}")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(f"wrote {_shown(path)}")


def extract():
    """Write the template (.pot) from the source."""
    catalog = extract_catalog()
    _save(TEMPLATE, catalog)
    print(f"{len(catalog)} message ids")


def update(locales=LOCALES):
    """Merge the template into each locale's .po: new ids come in empty, vanished ones are dropped."""
    template = _read(TEMPLATE)
    for locale in locales:
        path = po_path(locale)
        if path.exists():
            catalog = _read(path, locale)
            # No fuzzy guesses: Babel matches a new id against every old one, so "Hold" would arrive
            # pre-filled with the translation of "Hold released". An empty entry is honest.
            catalog.update(template, no_fuzzy_matching=True)
        else:
            catalog = _read(TEMPLATE, locale)
            catalog.fuzzy = False
            catalog.header_comment = (f"# {locale} translations of the deposit refund portal.\n"
                                      "# Refresh with tools/i18n.py (see its docstring).")
        catalog.project, catalog.version = template.project, template.version
        _save(path, catalog)


def compile_catalogs(locales=LOCALES):
    """Compile each .po to the .mo beside it (fuzzy entries left out, as gettext expects)."""
    for locale in locales:
        path = po_path(locale)
        buffer = io.BytesIO()
        write_mo(buffer, _read(path, locale), use_fuzzy=False)
        _write_if_changed(path.with_suffix(".mo"), buffer.getvalue())


def _forms(text):
    """A msgid or msgstr as a tuple of its forms (plural entries have several)."""
    return text if isinstance(text, tuple) else (text,)


def _directives(text):
    """The %-directives in one form of a message, ``%%`` aside."""
    return {match.group(0) for match in _DIRECTIVE.finditer(text or "")} - {"%%"}


def placeholder_problems(msgid, msgstr):
    """How a translation's placeholders differ from its msgid's (empty when they agree)."""
    expected = set().union(*(_directives(form) for form in _forms(msgid)))
    problems = []
    for form in _forms(msgstr):
        got = _directives(form)
        if expected - got:
            problems.append("translation lacks " + " ".join(sorted(expected - got)))
        if got - expected:
            problems.append("translation has unknown " + " ".join(sorted(got - expected)))
    return problems


def _translated(message):
    """True when every form of the message has a translation."""
    return all(_forms(message.string))


def _table(catalog):
    """What a catalogue translates, as gettext will use it: ``{(id, context): string}``."""
    def frozen(value):
        """Plural ids and strings come back as lists from a .mo and as tuples from a .po."""
        return tuple(value) if isinstance(value, (list, tuple)) else value

    return {(frozen(message.id), message.context): frozen(message.string) for message in catalog
            if message.id and not message.fuzzy and _translated(message)}


def problems(locales=LOCALES):
    """Everything wrong with the catalogues compared with the source, one line each."""
    source = extract_catalog()
    found = []
    for locale in locales:
        path = po_path(locale)
        if not path.exists():
            found.append(f"{_shown(path)}: missing (run update)")
            continue
        catalog = _read(path, locale)
        for message in source:
            if not message.id:
                continue  # the header
            filename, lineno = message.locations[0]
            label = f"{locale} {filename}:{lineno} {_forms(message.id)[0]!r}"
            entry = catalog.get(message.id, message.context)
            if entry is None or not _translated(entry):
                found.append(f"{label}: not translated")
            elif entry.fuzzy:
                found.append(f"{label}: fuzzy (check the translation, then remove the fuzzy flag)")
            else:
                found.extend(f"{label}: {problem}"
                             for problem in placeholder_problems(message.id, entry.string))
        mo = path.with_suffix(".mo")
        if not mo.exists():
            found.append(f"{_shown(mo)}: missing (run compile)")
        else:
            with mo.open("rb") as compiled:
                if _table(read_mo(compiled)) != _table(catalog):
                    found.append(f"{_shown(mo)}: out of date with {path.name} (run compile)")
    return found


def check(locales=LOCALES):
    """Print every problem; the exit status is 1 when there is any."""
    found = problems(locales)
    for line in found:
        print(line, file=sys.stderr)
    if found:
        print(f"{len(found)} problem(s); see tools/i18n.py for how to fix them", file=sys.stderr)
        return 1
    print("translations complete: " + ", ".join(locales))
    return 0


def main(argv=None):
    """Run one subcommand (or ``all`` of them, in order)."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("extract", "update", "compile", "check", "all"))
    command = parser.parse_args(argv).command
    steps = {"extract": extract, "update": update, "compile": compile_catalogs}
    for name in ("extract", "update", "compile") if command == "all" else (command,):
        if name in steps:
            steps[name]()
    return check() if command in ("check", "all") else 0


if __name__ == "__main__":
    sys.exit(main())
