"""The isolation matrix: every URL of both domain kinds x every actor x an object of customer A or of customer B.

The cases come from the URL configuration (``mdr.urls_tenant`` on A's domain, ``mdr.urls_public`` on the provider
domain, ``include()``\\ d modules walked), so a new endpoint is a new case, and it fails until
``expectations.RULES`` classifies it; a rule whose URL is gone fails too. For each (URL, method, actor, owner):

- the actor may do it (``expectations``) and the object is in its customer: allowed (2xx/3xx, or a 4xx validation
  answer to the empty body: it got past authorisation);
- the actor may do it but the object belongs to the other customer: 404;
- otherwise: denied (401/403 or a redirect to the sign-in page; 404 also counts for another customer's object);
- never, whatever the status, the other customer's marker (or the id of its object) in the body.

Every request runs in a savepoint that is rolled back, so a write (revoke a key, suspend a customer) does not change
what the next actor sees; nothing commits, so nothing is enqueued either.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.views import APIView

from tests.isolation import expectations
from tests.isolation.world import World, world_build, world_drop

CONFS = {"tenant": "mdr.urls_tenant", "public": "mdr.urls_public"}
ACTORS = (
    "anon",
    *(f"a:{r}" for r in ("viewer", "csirt", "admin")),
    *(f"b:{r}" for r in ("viewer", "csirt", "admin")),
    *(f"p:{r}" for r in ("analyst", "padmin", "am")),
    *(f"{c}:key:{s}" for c in "ab" for s in ("ingest", "read")),
)
OBJECT_PARAMS = {
    "alert_id",
    "incident_id",
    "action_id",
    "contact_id",
    "proposal_id",
    "number",
    "policy_id",
    "calendar_id",
    "timer_id",
    "version",
    "report_id",
    "public_id",
}
PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
DISCOVER = os.environ.get("MDR_ISOLATION_DISCOVER")  # a file: write what each case did instead of asserting


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern) and p.name:
            yield prefix + str(p.pattern), p


def url_cases() -> dict[tuple[str, str], tuple[str, URLPattern]]:
    cases = {}
    for kind, conf in CONFS.items():
        for route, pattern in _walk(get_resolver(conf).url_patterns):
            cases.setdefault((kind, pattern.name), (route, pattern))
    return cases


CASES = url_cases()


def api_methods(pattern: URLPattern) -> set[str] | None:
    """The methods a DRF view answers (None for a page, whose methods the rule declares)."""
    view = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
    if view is None or not issubclass(view, APIView):
        return None
    return {m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tenants_ab) -> World:
    with django_db_blocker.unblock():
        try:
            built = world_build()
        except BaseException:
            world_drop(None)
            raise
    yield built
    with django_db_blocker.unblock():
        world_drop(built)


def _actor(world: World, actor: str) -> tuple[str, str, dict]:
    """(role, home, request extras) of an actor: home is "a", "b" or "p" (provider)."""
    if actor == "anon":
        return "anon", "", {}
    home, *rest = actor.split(":")
    if rest[0] == "key":
        side = world.a if home == "a" else world.b
        return rest[1], home, {"HTTP_AUTHORIZATION": f"Bearer {side.keys[rest[1]]}"}
    session = world.staff_sessions[rest[0]] if home == "p" else (world.a if home == "a" else world.b).sessions[rest[0]]
    return rest[0], home, {"session": session}


def _outcome(response) -> str:
    status = response.status_code
    if status in (401, 403):
        return "deny"
    if status in (301, 302, 303, 307) and urlparse(response.get("Location", "")).path.startswith("/login/"):
        return "deny"
    if status == 404:
        return "404"
    if status == 405:
        return "405"
    if status >= 500:
        return f"5xx:{status}"
    if status in (400, 422):
        return "invalid"  # past authorisation, the empty body refused
    if status < 400 or status in (409, 410, 429):
        return "allow"  # including a state conflict, an expired link, a throttled sign-in attempt
    return f"other:{status}"


def _request(world: World, kind: str, method: str, path: str, actor_extras: dict):
    host = world.a.domain if kind == "tenant" else settings.MDR_BASE_DOMAIN
    client = Client(HTTP_HOST=host)
    extras = dict(actor_extras)
    session = extras.pop("session", None)
    if session:
        client.cookies[settings.SESSION_COOKIE_NAME] = session
    with transaction.atomic():
        if method in ("GET", "DELETE"):
            response = getattr(client, method.lower())(path, **extras)
        elif method == "POST" and not path.startswith("/api/"):
            response = client.post(path, {}, **extras)
        else:
            response = getattr(client, method.lower())(path, "{}", content_type="application/json", **extras)
        transaction.set_rollback(True)
    connection.set_schema_to_public()
    return response


def _expected(
    rule: expectations.Rule, method: str, kind: str, role: str, home: str, owner: str | None
) -> tuple[set, str]:
    """(acceptable outcomes, the customer whose data may appear) for one case; ``owner`` None: the URL names no
    object (so whatever it shows is the actor's own customer's)."""
    allowed_roles = rule.methods[method]
    is_key = role in ("ingest", "read")
    if "anon" in allowed_roles:  # a public page: anyone, signed in or not
        if kind == "tenant" and is_key and home == "b":
            return {"allow", "invalid", "deny"}, "a"  # another customer's key: ignored by a page, refused by the API
        return {"allow", "invalid"}, "a"
    if kind == "tenant":
        belongs, scope = home == "a", "a"
    else:
        belongs, scope = home == "p" or is_key, home if is_key else "a"
    owner = owner or scope
    if role in allowed_roles and belongs:
        if role in rule.odd:
            return {rule.odd[role]}, scope
        if owner != scope:  # another customer's object: not found (a write may refuse the empty body first)
            return ({"404"} if method == "GET" else {"404", "invalid"}), scope
        return ({"404"} if method in rule.absent else {"allow", "invalid"}), scope
    return ({"deny"} if owner == scope else {"deny", "404"}), scope


def test_every_url_has_a_rule_and_every_rule_a_url():
    missing = sorted(f"{k}:{n}" for k, n in CASES if (k, n) not in expectations.RULES)
    stale = sorted(f"{k}:{n}" for k, n in expectations.RULES if (k, n) not in CASES)
    assert not missing, f"URLs with no isolation rule (classify them in tests/isolation/expectations.py): {missing}"
    assert not stale, f"isolation rules for URLs that no longer exist: {stale}"


def test_rules_name_exactly_the_methods_an_api_view_answers():
    wrong = {}
    for key, (_route, pattern) in CASES.items():
        methods = api_methods(pattern)
        rule = expectations.RULES.get(key)
        if methods is not None and rule is not None and set(rule.methods) != methods:
            wrong[f"{key[0]}:{key[1]}"] = (sorted(rule.methods), sorted(methods))
    assert not wrong, f"rule methods differ from the view's (rule, view): {wrong}"


@pytest.mark.parametrize("kind,name", sorted(expectations.RULES), ids=lambda v: v)
def test_isolation_matrix(world, db, kind, name):
    if (kind, name) not in CASES:
        pytest.skip("stale rule (reported by test_every_url_has_a_rule_and_every_rule_a_url)")
    rule = expectations.RULES[(kind, name)]
    route, _pattern = CASES[(kind, name)]
    names = PARAM.findall(route)
    has_object = bool(OBJECT_PARAMS & set(names))
    owners = ("a", "b") if has_object else ("a",)
    failures, seen = [], {}
    for owner in owners:
        side = world.a if owner == "a" else world.b
        kwargs = {}
        for param in names:
            if param in rule.params:
                kwargs[param] = rule.params[param]
            elif param == "slug":
                kwargs[param] = world.a.slug
            elif param == "user_id":
                kwargs[param] = world.staff_user_id
            elif param in ("token", "uidb64"):
                kwargs[param] = "MQ" if param == "uidb64" else "x" * 32
            else:
                kwargs[param] = side.params[param]
        path = reverse(name, urlconf=CONFS[kind], kwargs=kwargs)
        for method in rule.methods:
            for actor in ACTORS:
                role, home, extras = _actor(world, actor)
                if home == "b" and owner == "b" and kind == "tenant":
                    continue  # B's principals on A's domain are denied whatever the id: once is enough
                response = _request(world, kind, method, path, extras)
                got = _outcome(response)
                expected, scope = _expected(rule, method, kind, role, home, owner if has_object else None)
                seen[f"{method} {owner} {actor}"] = f"{got} {response.status_code}"
                if got not in expected:
                    failures.append(f"{method} {path} as {actor}: {got} ({response.status_code}), expected {expected}")
                other = world.b if scope == "a" else world.a
                if rule.wide and home == "p":
                    continue  # a provider-wide page lists every customer's rows to staff, by design
                body = response.content.decode(errors="replace")
                leaked = [m for m in (other.marker, *_ids(other, kwargs)) if m in body]
                if leaked:
                    failures.append(f"{method} {path} as {actor}: the other customer's {leaked} in the body")
    if DISCOVER:
        with open(DISCOVER, "a") as out:
            out.write(json.dumps({"case": f"{kind}:{name}", "seen": seen, "failures": failures}) + "\n")
        return
    assert not failures, "\n".join(failures)


def _ids(other, kwargs: dict) -> list[str]:
    """The other customer's UUID ids that the request named (an error message must not echo them back)."""
    return [str(v) for k, v in kwargs.items() if isinstance(v, uuid.UUID) and other.params.get(k) == v]
