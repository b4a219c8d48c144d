"""The monthly report PDF (reports/pdf.py, charts.py, summary.py): rendered from tests/reports/sample_metrics.py in
Japanese and English, then read back with pypdf and poppler as a customer's tools would.

No database: rendering is a pure function of the metrics. The full sample is rendered once per language for the
module (WeasyPrint takes seconds per report), each test then inspects those bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from pypdf import PdfReader

from reports import charts, pdf
from reports.pdf import ReportRenderError, render_report_html, render_report_pdf
from reports.summary import executive_summary, fmt_duration
from tests.reports.sample_metrics import (
    ALERTS_RECEIVED,
    INCIDENTS_CREATED,
    SLA_COMPLIANCE_PCT,
    empty_metrics,
    sample_csvs,
    sample_metrics,
)

ROOT = Path(__file__).resolve().parents[2]
CUSTOMER = {"ja": "アクメ株式会社", "en": "Acme Corp"}
RECOMMENDATIONS = {
    "ja": [
        "VPNゲートウェイに多要素認証を導入してください。",
        "FortiGate (本社) のログ転送設定を確認してください。",
        'メールゲートウェイで <script>alert("x")</script> を含む添付を遮断してください。',
    ],
    "en": [
        "Enforce MFA on the VPN gateway.",
        "Check log forwarding of FortiGate (本社).",
        'Block attachments containing <script>alert("x")</script> at the mail gateway.',
    ],
}
ACTIONS = {"ja": ["tky-ws-0003 の利用者を確認してください。"], "en": ["Confirm the owner of tky-ws-0003."]}
HOSTILE_NAME = "Acme \u0378 Corp"  # U+0378 is unassigned: no font has a glyph for it
EVIL = '</svg><script>alert("x")</script><img src=x onerror=alert(1)><link rel="attachment" href="file:///etc/passwd">'


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Rendered:
    language: str
    metrics: dict
    alerts_csv: bytes
    incidents_csv: bytes
    pdf: bytes
    seconds: float
    warnings: list[logging.LogRecord]

    @property
    def reader(self) -> PdfReader:
        return PdfReader(io.BytesIO(self.pdf))

    def text(self) -> str:
        return "\n".join(page.extract_text() for page in self.reader.pages)


def _render(language: str, metrics: dict, *, draft: bool = False, customer: str | None = None, **kwargs) -> Rendered:
    alerts_csv, incidents_csv = sample_csvs(metrics) if metrics["incidents"]["list"] else (b"id\n", b"id\n")
    capture = _Capture()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(capture)
    started = time.perf_counter()
    try:
        data = render_report_pdf(
            metrics=metrics,
            language=language,
            customer_name=customer or CUSTOMER[language],
            recommendations=RECOMMENDATIONS[language],
            customer_actions=ACTIONS[language],
            alerts_csv=alerts_csv,
            incidents_csv=incidents_csv,
            draft=draft,
            **kwargs,
        )
    finally:
        logger.removeHandler(capture)
    return Rendered(language, metrics, alerts_csv, incidents_csv, data, time.perf_counter() - started, capture.records)


@pytest.fixture(scope="module")
def rendered() -> dict[str, Rendered]:
    # The Japanese one is a draft (watermark), the English one is not.
    return {"ja": _render("ja", sample_metrics(), draft=True), "en": _render("en", sample_metrics())}


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _font_names(reader: PdfReader) -> set[str]:
    names = set()
    for page in reader.pages:
        fonts = page.get("/Resources", {}).get("/Font", {})
        for ref in fonts.values():
            names.add(str(ref.get_object().get("/BaseFont")))
    return names


# --- the sample, both languages -------------------------------------------------------------------------------


def test_render_time_and_page_count_are_reported(rendered, capsys):
    # given the sample rendered in both languages (module fixture)
    # then: figures for the record (no assertion on speed: 2 shared cores, machine-dependent)
    with capsys.disabled():
        for language in ("ja", "en"):
            r = rendered[language]
            size = f"{len(r.pdf) / 1024:.0f} KiB"
            print(f"\n[report pdf] {language}: {r.seconds:.1f} s, {len(r.reader.pages)} pages, {size}")
    assert all(len(rendered[lang].reader.pages) >= 5 for lang in ("ja", "en"))


@pytest.mark.parametrize("language", ["ja", "en"])
def test_cjk_font_is_embedded_and_no_glyph_is_missing(rendered, language):
    # given the rendered sample
    r = rendered[language]
    # then every page's fonts are Noto Sans CJK JP subsets (body, tables, margins and SVG text alike)
    fonts = _font_names(r.reader)
    assert fonts, "no font resources found"
    assert all("NotoSansCJKJP" in name.replace("-", "") for name in fonts), fonts
    # and WeasyPrint logged no .notdef (tofu) glyph and no error (e.g. a refused resource)
    notdef = [rec.getMessage() for rec in r.warnings if ".notdef" in rec.getMessage()]
    errors = [rec.getMessage() for rec in r.warnings if rec.levelno >= logging.ERROR]
    assert notdef == []
    assert errors == []


@pytest.fixture(scope="module")
def hostile() -> tuple[Rendered, list[logging.LogRecord]]:
    """An otherwise empty English month whose customer name carries a character no installed font has, with the
    renderer's own log captured. (pypdf's text extraction of such a PDF is garbled: the font's ToUnicode map then
    has an entry for CID 0xFFFF that pypdf mis-reads; poppler's pdftotext reads it correctly.)"""
    capture = _Capture()
    logging.getLogger("reports.pdf").addHandler(capture)
    try:
        return _render("en", empty_metrics(), customer=HOSTILE_NAME), capture.records
    finally:
        logging.getLogger("reports.pdf").removeHandler(capture)


def test_missing_glyphs_are_detected_by_the_log_capture(hostile):
    """Proves the .notdef check above can fail: WeasyPrint logs the unrenderable character, and the renderer
    reports it as ``reports.pdf.missing_glyphs`` (a warning, not a failure: data may hold any character)."""
    rendered_, own_log = hostile
    assert any(".notdef" in rec.getMessage() for rec in rendered_.warnings)
    assert [rec.getMessage() for rec in own_log] == ["reports.pdf.missing_glyphs"]


@pytest.mark.parametrize("language", ["ja", "en"])
def test_three_attachments_are_embedded_and_parse(rendered, language):
    # given
    r = rendered[language]
    attachments = r.reader.attachments
    # then exactly the three files, each once
    assert sorted(attachments) == ["alerts.csv", "incidents.csv", "metrics.json"]
    assert all(len(contents) == 1 for contents in attachments.values())
    # and the JSON is the metrics, UTF-8, keys sorted
    raw = attachments["metrics.json"][0]
    assert json.loads(raw.decode("utf-8")) == r.metrics
    assert raw == json.dumps(r.metrics, ensure_ascii=False, sort_keys=True, indent=2).encode()
    # and the CSVs are the caller's rows
    for name, given in (("alerts.csv", r.alerts_csv), ("incidents.csv", r.incidents_csv)):
        rows = list(csv.reader(io.StringIO(attachments[name][0].decode("utf-8"))))
        assert rows == list(csv.reader(io.StringIO(given.decode("utf-8"))))
        assert len(rows) > 10
    incident_ids = [row[0] for row in csv.reader(io.StringIO(attachments["incidents.csv"][0].decode()))][1:]
    assert incident_ids == [i["id"] for i in r.metrics["incidents"]["list"]]


@pytest.mark.parametrize("language", ["ja", "en"])
def test_pdfa_3b_markers_and_metadata(rendered, language):
    # given
    r = rendered[language]
    reader = r.reader
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data()
    # then the XMP claims PDF/A-3b
    assert b'pdfaid:part="3"' in xmp
    assert b'pdfaid:conformance="B"' in xmp
    # and an sRGB output intent is present (PDF/A needs one for device colours)
    assert root["/OutputIntents"][0]["/S"] == "/GTS_PDFA1"
    # and every attachment is an associated file with an AFRelationship, listed once
    associated = [ref.get_object() for ref in root["/AF"]]
    assert sorted(str(spec["/F"]) for spec in associated) == ["alerts.csv", "incidents.csv", "metrics.json"]
    assert {str(spec["/F"]): spec["/AFRelationship"] for spec in associated} == {
        "metrics.json": "/Source",
        "alerts.csv": "/Data",
        "incidents.csv": "/Data",
    }
    # and title, language and dates come from the metrics (as_of), not the clock
    assert root["/Lang"] == language
    assert reader.metadata.title.startswith(pdf.LABELS[language]["report_title"])
    assert CUSTOMER[language] in reader.metadata.title
    assert reader.metadata["/CreationDate"] == "D:20261102010000Z"
    assert b"<xmp:CreateDate>2026-11-02T01:00:00Z</xmp:CreateDate>" in xmp


@pytest.mark.parametrize(
    ("language", "phrases"),
    [
        (
            "ja",
            [
                f"SLA遵守率は{SLA_COMPLIANCE_PCT}%",
                f"インシデントを{INCIDENTS_CREATED}件起票しました",
                f"今月の受信アラートは{ALERTS_RECEIVED:,}件",
                "2026-10-01 00:00 〜 2026-11-01 00:00",
                "月末時点の未解決",
                "指標の定義",
            ],
        ),
        (
            "en",
            [
                f"SLA compliance was {SLA_COMPLIANCE_PCT}%",
                f"{INCIDENTS_CREATED} incidents were opened",
                f"{ALERTS_RECEIVED:,} alerts were received",
                "2026-10-01 00:00 to 2026-11-01 00:00",
                "Open at month end",
                "Definitions",
            ],
        ),
    ],
)
def test_key_figures_are_in_the_extracted_text(rendered, language, phrases):
    # given the text a customer's tools extract
    text = _squash(rendered[language].text())
    # then the figures appear as formatted, in the report's language and time zone
    for phrase in phrases:
        assert _squash(phrase) in text, phrase
    # and lists cut to the top N say where the rest is
    assert _squash("incidents.csv") in text
    assert "ALR-" in text  # a breach subject id from the list


@pytest.mark.parametrize("language", ["ja", "en"])
def test_page_numbers_in_the_margin(rendered, language):
    # given
    reader = rendered[language].reader
    total = len(reader.pages)
    # then the first and last pages are numbered "X of Y" in the report's language
    for number in (1, total):
        text = _squash(reader.pages[number - 1].extract_text())
        expected = f"{number}/{total}ページ" if language == "ja" else f"Page{number}of{total}"
        assert expected in text


def test_long_lists_are_cut_with_the_rest_pointed_to_and_headers_repeat(rendered):
    # given the English sample (50 of 63 incidents listed, 50 of 57 breaches, 10 of 684 hosts)
    reader = rendered["en"].reader
    text = _squash(rendered["en"].text())
    # then each cut list says how many more there are and where
    assert _squash("and 13 more (63 in all) \u2014 see the attached incidents.csv") in text
    assert _squash("and 674 more (684 in all) \u2014 see the attached alerts.csv") in text
    assert _squash("and 7 more not listed here (57 in all)") in text
    # and the incident table, which spans pages, repeats its header on every page it is on
    pages = [_squash(page.extract_text()) for page in reader.pages]
    incident_pages = [p for p in pages if "Detected2026-" in p]
    assert len(incident_pages) >= 2
    assert all("IncidentTitlePrioritySeverityState" in p for p in incident_pages)


def test_draft_watermark_only_on_drafts(rendered):
    # given a Japanese draft and an English final report
    # then the watermark is on every page of the draft and nowhere in the final one
    for page in rendered["ja"].reader.pages:
        assert "DRAFT/下書き" in _squash(page.extract_text())
    assert "DRAFT" not in rendered["en"].text()


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) not installed")
@pytest.mark.parametrize("language", ["ja", "en"])
def test_first_page_is_not_blank(rendered, language, tmp_path):
    from PIL import Image  # a WeasyPrint dependency, so always there with it

    # given page 1 rasterised by poppler
    (tmp_path / "r.pdf").write_bytes(rendered[language].pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(tmp_path / "r.pdf"), str(tmp_path / "p")],
        check=True,
        timeout=120,
    )
    [png] = list(tmp_path.glob("p*.png"))
    # then it has real content: several colours and a few percent of non-white pixels
    assert png.stat().st_size > 5_000
    image = Image.open(png).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 10
    inked = sum(count for count, rgb in colours if sum(rgb) < 600)
    assert inked / (image.width * image.height) > 0.02


def sample_pdf_bytes() -> bytes:
    """The Japanese draft of the full sample (the reproducibility test renders it in two processes)."""
    metrics = sample_metrics()
    alerts_csv, incidents_csv = sample_csvs(metrics)
    return render_report_pdf(
        metrics=metrics,
        language="ja",
        customer_name=CUSTOMER["ja"],
        recommendations=RECOMMENDATIONS["ja"],
        customer_actions=ACTIONS["ja"],
        alerts_csv=alerts_csv,
        incidents_csv=incidents_csv,
        draft=True,
    )


_OTHER_PROCESS = """
import sys
import django

django.setup()
from tests.reports.test_pdf import sample_pdf_bytes

with open(sys.argv[1], "wb") as out:
    out.write(sample_pdf_bytes())
"""


def test_rendering_is_reproducible(monkeypatch, tmp_path):
    """Same input, rendered here and in another process with another hash seed: the same SHA-256.

    Caveat, honestly: where WeasyPrint finds no HarfBuzz-Subset library (this dev machine lacks libharfbuzz-subset0;
    docker/Dockerfile installs it) it subsets fonts with fontTools, which stamps every subset font's ``head.modified``
    with the current time unless SOURCE_DATE_EPOCH is set; the test pins SOURCE_DATE_EPOCH in that case only. The
    HarfBuzz path is expected not to stamp, but is not exercised on a machine without the library."""
    from weasyprint.text.ffi import harfbuzz_subset

    env = {**os.environ, "PYTHONHASHSEED": "4242", "DJANGO_SETTINGS_MODULE": "mdr.settings_test"}
    if harfbuzz_subset is None:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
        env["SOURCE_DATE_EPOCH"] = "1700000000"
    # given the other process started first (2 cores: both renders run at once)
    other = subprocess.Popen(
        [sys.executable, "-c", _OTHER_PROCESS, str(tmp_path / "other.pdf")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # when both render the same input
        here = sample_pdf_bytes()
        _, stderr = other.communicate(timeout=600)
    finally:
        if other.poll() is None:
            other.kill()
    assert other.returncode == 0, stderr.decode(errors="replace")[-2000:]
    there = (tmp_path / "other.pdf").read_bytes()
    # then the bytes are identical
    assert hashlib.sha256(here).hexdigest() == hashlib.sha256(there).hexdigest()


# --- the empty month --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["ja", "en"])
def test_empty_month_renders(language):
    # given a month with nothing in it (every percentage null, every list empty)
    metrics = empty_metrics()
    # when
    r = _render(language, metrics)
    # then it renders, says so, and still carries its attachments
    text = _squash(r.text())
    expected = "今月の受信アラートはありませんでした。" if language == "ja" else "No alerts were received this month."
    assert _squash(expected) in text
    assert ("データなし" if language == "ja" else "nodata") in text  # empty charts say so instead of drawing axes
    assert sorted(r.reader.attachments) == ["alerts.csv", "incidents.csv", "metrics.json"]
    assert [rec.getMessage() for rec in r.warnings if rec.levelno >= logging.ERROR] == []


# --- escaping -----------------------------------------------------------------------------------------------------


def _evil_metrics() -> dict:
    metrics = sample_metrics()
    metrics["incidents"]["list"][0]["title"] = EVIL
    metrics["breakdowns"]["by_category"][0]["key"] = EVIL
    metrics["breakdowns"]["top_rules"][0]["name"] = EVIL
    metrics["breakdowns"]["top_hosts"][0]["key"] = EVIL
    metrics["coverage"]["log_sources"][0]["name"] = EVIL
    metrics["sla"]["breaches"][0]["reason"] = EVIL
    return metrics


@pytest.mark.parametrize("language", ["ja", "en"])
def test_attacker_strings_stay_escaped_in_html_and_svg(language):
    # given attacker-influenced strings in titles, rule names, hosts, categories (drawn in an SVG chart), sources,
    # breach reasons, the customer name and the analyst's texts
    html = render_report_html(
        metrics=_evil_metrics(),
        language=language,
        customer_name=EVIL,
        recommendations=[EVIL],
        customer_actions=[EVIL],
    )
    # then none of it is markup: no script, no injected element, no attachment link
    assert "<script" not in html
    assert "<img src=x" not in html
    assert '<link rel="attachment"' not in html
    assert "&lt;script&gt;" in html
    # and the SVG charts still close exactly as often as they open (the label did not end one early)
    assert html.count("<svg") == html.count("</svg>") == 9
    assert "&lt;/svg&gt;" in html


def test_chart_labels_are_escaped_and_well_formed():
    # given a label that tries to close the SVG
    svg = charts.bar_chart([(EVIL, 3), ("ok", 1)], width=4000, horizontal=True, title=EVIL)
    # then the SVG parses as XML and the label is text, intact
    root = ET.fromstring(svg)  # noqa: S314 -- our own generated SVG
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert EVIL in texts
    assert root.get("aria-label") == EVIL
    assert svg.count("</svg>") == 1


@pytest.mark.parametrize("language", ["ja", "en"])
def test_markup_renders_as_literal_text_in_the_pdf(rendered, language):
    # given an analyst's recommendation quoting markup (in the sample's recommendations)
    # then the PDF shows the characters, it did not interpret them
    assert _squash('<script>alert("x")</script>') in _squash(rendered[language].text())


# --- guards -------------------------------------------------------------------------------------------------------


def test_japanese_font_check_uses_fontconfig():
    """The real check against this machine's fontconfig: fonts-noto-cjk is installed here, a made-up family is
    not. (The failing path of the render is tested below with the check monkeypatched, since the font IS
    installed on this machine.)"""
    assert pdf.japanese_font_available() is True
    assert pdf.japanese_font_available("No Such Family JP 12345") is False


def test_missing_japanese_font_fails_the_render(monkeypatch):
    """Simulated: ``japanese_font_available`` is monkeypatched to say no, because the font is installed here."""
    # given no Japanese font
    monkeypatch.setattr(pdf, "japanese_font_available", lambda family=pdf.JP_FONT_FAMILY: False)
    csvs = sample_csvs()
    common = {"metrics": sample_metrics(), "recommendations": [], "customer_actions": []}
    # then a Japanese report refuses to render
    with pytest.raises(ReportRenderError, match=r"no Japanese font installed \(fonts-noto-cjk\)"):
        render_report_pdf(language="ja", customer_name="アクメ", alerts_csv=csvs[0], incidents_csv=csvs[1], **common)
    # and so does an English one whose data carries Japanese (the sample's titles do)
    with pytest.raises(ReportRenderError, match="no Japanese font installed"):
        render_report_pdf(language="en", customer_name="Acme", alerts_csv=csvs[0], incidents_csv=csvs[1], **common)


def test_bad_input_is_refused():
    metrics = sample_metrics()
    common = {"customer_name": "Acme", "recommendations": [], "customer_actions": []}
    with pytest.raises(ReportRenderError, match="language"):
        render_report_html(metrics=metrics, language="fr", **common)
    with pytest.raises(ReportRenderError, match="schema_version"):
        render_report_html(metrics={**metrics, "schema_version": 2}, language="en", **common)


def test_times_carry_the_zone_when_it_changes_offset_in_the_month():
    # given a New York November (daylight saving time ends on 1 November 2026)
    metrics = empty_metrics()
    metrics["period"] = {
        "month": "2026-11",
        "start": "2026-11-01T04:00:00+00:00",
        "end": "2026-12-01T05:00:00+00:00",
        "timezone": "America/New_York",
        "as_of": "2026-12-02T14:00:00+00:00",
    }
    # when
    html = render_report_html(
        metrics=metrics, language="en", customer_name="Acme", recommendations=[], customer_actions=[]
    )
    # then instants carry the zone abbreviation (01:30 happens twice that night); midnights of the range do not
    assert "2026-12-02 09:00 EST" in html
    assert "2026-11-01 00:00 to 2026-12-01 00:00 (end excluded)" in html
    assert "America/New_York (UTC-04:00)" in html


# --- branding -----------------------------------------------------------------------------------------------------


def test_branding_from_settings_merges_over_defaults(settings):
    # given a provider name and colour in settings, no logo
    settings.MDR_REPORT_BRANDING = {"name": "Example SOC 株式会社", "color": "#AA3300"}
    # when
    html = render_report_html(
        metrics=sample_metrics(), language="en", customer_name="Acme", recommendations=[], customer_actions=[]
    )
    # then the name is the wordmark and the colour is used; the default logo (none) gives a text wordmark
    assert '<span class="wordmark">Example SOC 株式会社</span>' in html
    assert "#aa3300" in html
    assert "<img" not in html


def test_branding_logo_from_static_or_data_uri_is_inlined(settings, monkeypatch, tmp_path):
    # given a PNG logo under the static folder (a temporary one stands in for static/)
    (tmp_path / "brand").mkdir()
    (tmp_path / "brand" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    monkeypatch.setattr(pdf, "STATIC_DIR", tmp_path)
    settings.MDR_REPORT_BRANDING = {"logo": "static/brand/logo.png"}
    # then it is inlined as a data URI (WeasyPrint is allowed no file access)
    assert pdf.report_branding()["logo_uri"] == "data:image/png;base64,iVBORw0KGgo="
    # and a data URI given directly is used as is, in the HTML too
    settings.MDR_REPORT_BRANDING = {"logo": "data:image/png;base64,iVBORw0KGgo="}
    html = render_report_html(
        metrics=empty_metrics(), language="en", customer_name="Acme", recommendations=[], customer_actions=[]
    )
    assert '<img src="data:image/png;base64,iVBORw0KGgo="' in html


@pytest.mark.parametrize(
    ("branding", "message"),
    [
        ({"color": "red"}, "color"),
        ({"color": "#12345"}, "color"),
        ({"color": '#123456"><script>'}, "color"),
        ({"logo": "../mdr/settings.py"}, "logo"),
        ({"logo": "../../etc/passwd.png"}, "logo"),
        ({"logo": "reports/missing.svg"}, "not found"),
        ({"logo": "data:text/html;base64,PHNjcmlwdD4="}, "data URI"),
        ({"name": "  "}, "name"),
        ({"colour": "#123456"}, "unknown keys"),
    ],
)
def test_bad_branding_is_refused(branding, message):
    with pytest.raises(ReportRenderError, match=message):
        pdf.report_branding(branding)


# --- charts and wording (no PDF) -------------------------------------------------------------------------------


def test_line_chart_breaks_at_missing_values_and_uses_the_cjk_font():
    svg = charts.line_chart({"SLA": [99.0, None, 98.0, 97.5]}, ["5月", "6月", "7月", "8月"], y_min=None, y_max=100)
    root = ET.fromstring(svg)  # noqa: S314 -- our own generated SVG
    polylines = list(root.iter("{http://www.w3.org/2000/svg}polyline"))
    assert len(polylines) == 1  # 99.0 stands alone; 98.0 -> 97.5 is one segment
    assert len(list(root.iter("{http://www.w3.org/2000/svg}circle"))) == 3
    assert root.get("font-family").startswith("'Noto Sans CJK JP'")


def test_charts_without_data_say_so():
    assert "データなし" in charts.bar_chart([("a", 0)], empty_label="データなし")
    assert "no data" in charts.line_chart({"x": [None, None]}, ["1", "2"])


def test_executive_summary_words_the_figures():
    metrics = sample_metrics()
    en = executive_summary(metrics, "en")
    ja = executive_summary(metrics, "ja")
    assert "SLA compliance was 98.7% (4,321 met, 57 breached). Lowest: time to acknowledge P1 at 90.0%." in en
    assert "15 critical incidents (priority P1 or P2)." in en
    assert "Compared with 2026-09: alerts +12.0%, incidents +8.6%, SLA compliance -0.3 pt." in en
    assert "重大インシデント（優先度P1・P2）は15件でした。" in ja  # noqa: RUF001
    assert len(en) == len(ja)
    empty = executive_summary(empty_metrics(), "en")
    assert empty[0] == "No alerts were received this month."
    assert any("no compliance figure" in bullet for bullet in empty)


@pytest.mark.parametrize(
    ("seconds", "en", "ja"),
    [(45.9, "45s", "45秒"), (725, "12m 05s", "12分5秒"), (3840, "1h 04m", "1時間4分"), (183600, "2d 03h", "2日3時間")],
)
def test_durations(seconds, en, ja):
    assert fmt_duration(seconds, "en") == en
    assert fmt_duration(seconds, "ja") == ja
