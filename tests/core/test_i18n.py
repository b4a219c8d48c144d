"""The portal and console in Japanese and English: the Japanese catalogue is complete, compiled and in step with the
marked strings, and a signed-in user sees the pages in the language of their profile."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings

from mdr.accounts.models import Role
from tests.conftest import login
from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"
LOCALE = Path(settings.BASE_DIR) / "locale"
PO = LOCALE / "ja" / "LC_MESSAGES" / "django.po"
MO = LOCALE / "ja" / "LC_MESSAGES" / "django.mo"
# What `makemessages` scans: the Python code and the templates (not the PDF report or the e-mails, which carry
# their own per-language texts; not the tests). The reports app's Python is scanned: its model choices are shown
# on the pages.
SCANNED = ("mdr", "reports", "tenants", "templates")
IGNORED = ["templates/reports/*", "templates/emails/*", "tests", ".venv"]


def _unquote(lines: list[str]) -> str:
    text = "".join(re.fullmatch(r'"(.*)"', line.strip()).group(1) for line in lines)
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), text)


def _po_entry(lines: list[str]) -> dict:
    """One block of a .po file: its keywords with their (possibly multi-line) strings, and its flags."""
    entry: dict = {"flags": set(), "msgstr": []}
    fields: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith('"') and fields:
            fields[-1][1].append(line)
        elif not line.startswith("#"):
            key, _, rest = line.partition(" ")
            fields.append((key, [rest]))
    for key, values in fields:
        if key.startswith("msgstr"):
            entry["msgstr"].append(_unquote(values))
        else:
            entry[key] = _unquote(values)
    return entry


def po_entries(path: Path) -> list[dict]:
    """The active (non-obsolete) entries of a .po file: msgid, msgid_plural, msgstr list and flags."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.strip().splitlines() if line and not line.startswith("#~")]
        entry = _po_entry(lines)
        if "msgid" in entry:
            entries.append(entry)
    return entries


def _translated(entries: list[dict]) -> list[dict]:
    return [e for e in entries if e["msgid"]]  # the header has an empty msgid


def test_every_japanese_msgid_has_a_translation_and_none_is_fuzzy():
    entries = po_entries(PO)
    # then: a real catalogue (not an empty file the loop below would pass over)
    assert len(_translated(entries)) > 300
    header = next(e for e in entries if e["msgid"] == "")
    assert "fuzzy" not in header["flags"] and "Language: ja" in header["msgstr"][0]
    untranslated = [e["msgid"] for e in _translated(entries) if not all(s.strip() for s in e["msgstr"])]
    fuzzy = [e["msgid"] for e in _translated(entries) if "fuzzy" in e["flags"]]
    assert untranslated == []
    assert fuzzy == []


def test_the_compiled_catalogue_matches_the_po_file():
    """A .po edited without ``compilemessages`` would leave the pages on the old texts."""
    with MO.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog
    for entry in _translated(po_entries(PO)):
        key = (entry["msgid"], 0) if "msgid_plural" in entry else entry["msgid"]
        assert catalog.get(key) == entry["msgstr"][0], entry["msgid"]


def test_makemessages_finds_no_msgid_missing_from_the_catalogue(tmp_path, monkeypatch):
    """Runs the real ``makemessages`` over the code and templates into a copy of the catalogue (the committed file
    is never touched) and compares the msgids. A string newly marked in a template or a view without a msgid in the
    .po, or a msgid whose source text was changed or removed, makes the two sets differ and the test fail."""
    # given: a scratch project with only the scanned folders (symlinked) and a copy of the catalogue
    for name in SCANNED:
        (tmp_path / name).symlink_to(Path(settings.BASE_DIR) / name, target_is_directory=True)
    copy = tmp_path / "locale" / "ja" / "LC_MESSAGES" / "django.po"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(PO.read_bytes())
    monkeypatch.chdir(tmp_path)
    # when
    with override_settings(LOCALE_PATHS=[tmp_path / "locale"]):
        call_command("makemessages", locale=["ja"], symlinks=True, ignore_patterns=IGNORED, verbosity=0)
    # then
    fresh = {e["msgid"] for e in _translated(po_entries(copy))}
    committed = {e["msgid"] for e in _translated(po_entries(PO))}
    assert sorted(fresh - committed) == [], "marked strings missing from the .po: run makemessages and translate"
    assert sorted(committed - fresh) == [], "msgids no longer in the code: run makemessages"


PORTAL_PAGES = {
    "/": "概要",
    "/alerts/": "絞り込み",
    "/incidents/": "インシデント",
    "/escalation/": "連絡先とエスカレーション",
    "/reports/": "月次レポート",
    "/contract/": "監視対象範囲",
}
PORTAL_ENGLISH = {
    "/": "Overview",
    "/alerts/": "Filter",
    "/incidents/": "Acknowledged",
    "/escalation/": "Contacts and escalation",
    "/reports/": "Monthly reports",
    "/contract/": "Scope",
}


def _portal_client(acme, language: str) -> Client:
    from django_tenants.utils import schema_context

    with schema_context(acme.schema):
        user = UserFactory(role=Role.CUSTOMER_ADMIN, language=language)
    client = acme.client()
    login(client, user.username, PASSWORD)
    return client


@pytest.mark.parametrize(("path", "text"), PORTAL_PAGES.items())
def test_a_japanese_customer_sees_the_portal_in_japanese(acme, path, text):
    # given
    client = _portal_client(acme, "ja")
    # when
    response = client.get(path)
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="ja">' in html
    assert text in html and "ログアウト" in html and "セキュリティポータル" in html
    assert "Log out" not in html and "Security portal" not in html


@pytest.mark.parametrize(("path", "text"), PORTAL_ENGLISH.items())
def test_an_english_customer_sees_the_portal_in_english(acme, path, text):
    client = _portal_client(acme, "en")
    response = client.get(path)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="en">' in html
    assert text in html and "Log out" in html
    assert "ログアウト" not in html


def test_the_login_page_follows_the_browser_language_until_sign_in(acme):
    # given: an anonymous visitor whose browser prefers Japanese
    client = acme.client()
    # when
    response = client.get("/login/", HTTP_ACCEPT_LANGUAGE="ja,en;q=0.5")
    # then
    html = response.content.decode()
    assert '<html lang="ja">' in html and "ログイン" in html and "パスワード" in html
    assert '<html lang="en">' in acme.client().get("/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_profile_language_wins_over_the_browser_language(acme):
    client = _portal_client(acme, "en")
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="ja")
    assert '<html lang="en">' in response.content.decode()


@pytest.mark.parametrize(("path", "text"), [("/", "顧客"), ("/queue/", "アナリストキュー")])
def test_a_japanese_analyst_sees_the_console_in_japanese(db, tenants_ab, path, text):
    # given
    user = UserFactory(role=Role.ANALYST, language="ja")
    client = Client(HTTP_HOST=settings.MDR_BASE_DOMAIN)
    login(client, user.username, PASSWORD)
    # when
    response = client.get(path)
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="ja">' in html
    assert text in html and "MDR <small>プロバイダーコンソール</small>" in html and "ログアウト" in html
    assert "Provider console" not in html
