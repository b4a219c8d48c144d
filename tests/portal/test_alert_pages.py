"""Alert pages: filters, keyset pagination both ways without repeats, a flat query count, the escaped raw payload."""

import re
from datetime import timedelta

from django.utils import timezone

from mdr.accounts.models import Role
from mdr.alerts import selectors
from tests.portal.helpers import make_alert, portal_client

ROW = re.compile(r'href="/alerts/([0-9a-f-]{36})" data-testid="alert-link"')


def _ids(response) -> list[str]:
    assert response.status_code == 200
    return ROW.findall(response.content.decode())


def _link(response, testid: str) -> str | None:
    match = re.search(rf'href="([^"]+)" data-testid="{testid}"', response.content.decode())
    return match.group(1).replace("&amp;", "&") if match else None


def test_keyset_pagination_pages_forward_and_back_without_repeating_rows(acme, monkeypatch):
    # given: 7 alerts, two observed at the same instant (the id breaks the tie), pages of 3
    monkeypatch.setattr("mdr.portal.views.DEFAULT_PAGE", 3)
    now = timezone.now()
    made = [make_alert("acme", n, observed_at=now - timedelta(minutes=n)) for n in range(6)]
    made.append(make_alert("acme", 6, observed_at=made[2].observed_at))
    client = portal_client(acme, Role.VIEWER)
    # when
    first = client.get("/alerts/")
    second = client.get("/alerts/" + _link(first, "alerts-next"))
    third = client.get("/alerts/" + _link(second, "alerts-next"))
    back = client.get("/alerts/" + _link(third, "alerts-prev"))
    # then
    pages = [_ids(first), _ids(second), _ids(third)]
    assert [len(p) for p in pages] == [3, 3, 1]
    seen = [i for p in pages for i in p]
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == {str(a.pk) for a in made}
    assert _link(third, "alerts-next") is None and _link(first, "alerts-prev") is None
    assert _ids(back) == pages[1]


def test_filters_are_applied_and_kept_across_pages(acme, monkeypatch):
    # given
    monkeypatch.setattr("mdr.portal.views.DEFAULT_PAGE", 2)
    for n in range(3):
        make_alert("acme", n, title=f"ransomware {n}", severity_id=5)
    make_alert("acme", 9, title="ransomware low", severity_id=2)
    make_alert("acme", 10, title="phishing", severity_id=5)
    client = portal_client(acme, Role.VIEWER)
    # when
    first = client.get("/alerts/", {"q": "ransomware", "severity": "5"})
    second = client.get("/alerts/" + _link(first, "alerts-next"))
    # then
    titles = first.content.decode() + second.content.decode()
    assert len(_ids(first)) + len(_ids(second)) == 3
    assert "phishing" not in titles and "ransomware low" not in titles
    assert "q=ransomware" in _link(first, "alerts-next")


def test_bad_filter_is_shown_next_to_its_field(acme):
    client = portal_client(acme, Role.VIEWER)
    response = client.get("/alerts/", {"since": "2026-02-01T00:00", "until": "2026-01-01T00:00"})
    assert response.status_code == 200
    assert 'data-testid="error-until"' in response.content.decode()
    assert 'data-testid="error-since"' in client.get("/alerts/", {"since": "yesterday"}).content.decode()


def test_query_count_of_the_alert_list_does_not_grow_with_the_page_size(
    acme, monkeypatch, django_assert_max_num_queries
):
    # given
    for n in range(12):
        make_alert("acme", n)
    client = portal_client(acme, Role.VIEWER)
    client.get("/alerts/")  # warm the session and the tenant lookup
    # when / then
    monkeypatch.setattr("mdr.portal.views.DEFAULT_PAGE", 2)
    with django_assert_max_num_queries(8) as small:
        assert len(_ids(client.get("/alerts/"))) == 2
    monkeypatch.setattr("mdr.portal.views.DEFAULT_PAGE", 12)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(_ids(client.get("/alerts/"))) == 12


def test_alert_detail_shows_normalised_fields_and_the_escaped_raw_payload(acme):
    # given
    alert = make_alert("acme", 1, title="Mimikatz", raw={"cmd": "<script>alert(1)</script>", "user": "山田"})
    # when
    html = portal_client(acme, Role.VIEWER).get(f"/alerts/{alert.pk}").content.decode()
    # then
    assert "Mimikatz" in html and "host1" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert "山田" in html and '"cmd": ' in html.replace("&quot;", '"')


def test_alert_page_selector_returns_no_rows_twice(acme):
    from django_tenants.utils import schema_context

    now = timezone.now()
    alerts = [make_alert("acme", n, observed_at=now - timedelta(seconds=n)) for n in range(5)]
    with schema_context("acme"):
        filters = selectors.AlertFilters()
        first = selectors.alert_page(filters=filters, limit=2)
        second = selectors.alert_page(filters=filters, after=first.next_cursor, limit=2)
        third = selectors.alert_page(filters=filters, after=second.next_cursor, limit=2)
        back = selectors.alert_page(filters=filters, before=third.prev_cursor, limit=2)
        back2 = selectors.alert_page(filters=filters, before=back.prev_cursor, limit=2)
    assert [a.pk for a in first.alerts + second.alerts + third.alerts] == [a.pk for a in alerts]
    assert third.next_cursor is None and first.prev_cursor is None
    assert [a.pk for a in back.alerts] == [a.pk for a in second.alerts]
    assert [a.pk for a in back2.alerts] == [a.pk for a in first.alerts] and back2.prev_cursor is None
