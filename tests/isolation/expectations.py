"""Who may do what, per URL name and method: the table the isolation matrix (``test_matrix.py``) checks every URL
against. A URL the configuration serves and this table does not name fails the matrix, so a new endpoint is
classified here, on purpose, when it is added.

Roles: on a customer domain ("tenant" URLs) ``viewer``, ``csirt``, ``admin`` (customer users) and the API key
scopes ``ingest`` and ``read``; on the provider domain ("public" URLs) ``analyst``, ``padmin`` (provider admin),
``am`` (account manager) and the key scopes again (a key on the provider domain is routed to its own customer).
``anon`` in a set means anyone at all, signed in or not. Everybody not named is denied, and a principal of another
customer, or provider staff on a customer domain, is denied whatever the table says (their session does not exist
there; another customer's key is refused). The sets follow ``mdr.accounts.permissions`` (capabilities by role and by
key scope).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    """``methods``: method -> roles allowed. ``params``: URL parameters that are not object ids (an action name).
    ``absent``: methods the route accepts but answers 404 on for everyone allowed (a shared view: actions are
    POSTs on the action URL). ``odd``: role -> the outcome that role gets instead (see the constant it uses).
    ``wide``: a provider-wide page that lists every customer's rows to staff by design (no marker check for staff).
    """

    methods: dict[str, frozenset[str]]
    params: dict[str, object] = field(default_factory=dict)
    absent: frozenset[str] = frozenset()
    odd: dict[str, str] = field(default_factory=dict)
    wide: bool = False


def rule(methods: dict, *, params=None, absent=(), odd=None, wide=False) -> Rule:
    return Rule(
        methods={m: frozenset(r) for m, r in methods.items()},
        params=params or {},
        absent=frozenset(absent),
        odd=odd or {},
        wide=wide,
    )


ANYONE = {"anon"}
NOBODY: set[str] = set()  # sign-in steps with nothing pending, and logout: everyone lands on the sign-in page
PORTAL = {"viewer", "csirt", "admin"}  # portal.view, alert.read, report.read, escalation.read, ...
RESPONDERS = {"csirt", "admin"}  # incident.acknowledge / comment / action_status
CUSTOMER_ADMIN = {"admin"}  # apikey.manage, audit.view, escalation.propose
KEY_READ = {"read"}
KEY_INGEST = {"ingest"}
KEYS = KEY_READ | KEY_INGEST
READERS = PORTAL | KEY_READ
STAFF = {"analyst", "padmin", "am"}  # customer.list, contract.read_any, report.manage, alert.read_any
OPERATORS = {"analyst", "padmin"}  # alert.triage, sla.operate
PADMIN = {"padmin"}  # customer.*, contract.manage, staff.manage, apikey.manage_any
# /api/v1/alerts on the provider domain serves keys; staff are past authorisation but must name a customer (400).
STAFF_NEED_CUSTOMER = {"analyst": "invalid", "padmin": "invalid", "am": "invalid"}

RULES: dict[tuple[str, str], Rule] = {
    ("public", "account"): rule({"GET": STAFF, "POST": STAFF}),
    ("public", "account-totp-enrol"): rule({"GET": STAFF, "POST": STAFF}),
    ("public", "account-totp-remove"): rule({"POST": STAFF}),
    ("public", "api-alert"): rule({"GET": STAFF | KEY_READ}, odd=STAFF_NEED_CUSTOMER),
    ("public", "api-alert-triage"): rule({"POST": OPERATORS}, params={"action": "acknowledge"}),
    ("public", "api-alerts"): rule({"GET": STAFF | KEY_READ, "POST": KEY_INGEST}, odd=STAFF_NEED_CUSTOMER),
    ("public", "api-alerts-reclassify"): rule({"POST": PADMIN}),
    ("public", "api-assets"): rule({"POST": PADMIN}),
    ("public", "api-contact"): rule({"GET": STAFF, "PATCH": PADMIN}),
    ("public", "api-contact-archive"): rule({"POST": PADMIN}),
    ("public", "api-contact-rotate-secret"): rule({"POST": PADMIN}),
    ("public", "api-contact-verify"): rule({"POST": PADMIN}),
    ("public", "api-contacts"): rule({"GET": STAFF, "POST": PADMIN}),
    ("public", "api-contract"): rule({"GET": STAFF}),
    ("public", "api-contract-entitlements"): rule({"PUT": PADMIN}),
    ("public", "api-contract-scope-items"): rule({"POST": PADMIN}),
    ("public", "api-contract-usage"): rule({"GET": STAFF}),
    ("public", "api-contract-version"): rule({"GET": STAFF, "PATCH": PADMIN}),
    ("public", "api-contract-version-publish"): rule({"POST": PADMIN}),
    ("public", "api-contract-versions"): rule({"POST": PADMIN}),
    ("public", "api-customer-key-revoke"): rule({"POST": PADMIN}),
    ("public", "api-customer-keys"): rule({"POST": PADMIN}),
    ("public", "api-customer-resume"): rule({"POST": PADMIN}),
    ("public", "api-customer-suspend"): rule({"POST": PADMIN}),
    ("public", "api-customers"): rule({"GET": STAFF, "POST": PADMIN}, wide=True),
    ("public", "api-docs"): rule({"GET": ANYONE}),
    ("public", "api-drift"): rule({"GET": STAFF}),
    ("public", "api-escalation-matrix"): rule({"GET": STAFF, "POST": PADMIN}),
    ("public", "api-escalation-proposal-approve"): rule({"POST": PADMIN}),
    ("public", "api-escalation-proposal-reject"): rule({"POST": PADMIN}),
    ("public", "api-escalation-proposals"): rule({"GET": STAFF}),
    ("public", "api-incident"): rule({"GET": STAFF, "POST": OPERATORS}, absent=("POST",)),
    ("public", "api-incident-action"): rule(
        {"GET": STAFF, "POST": OPERATORS}, params={"action": "note"}, absent=("GET",)
    ),
    ("public", "api-incidents"): rule({"GET": STAFF, "POST": OPERATORS}),
    ("public", "api-queue"): rule({"GET": STAFF}, wide=True),
    ("public", "api-report"): rule({"GET": STAFF, "PATCH": STAFF, "POST": STAFF}, absent=("POST",)),
    ("public", "api-report-action"): rule(
        {"GET": STAFF, "PATCH": STAFF, "POST": STAFF}, params={"action": "refresh"}, absent=("GET", "PATCH")
    ),
    ("public", "api-report-pdf"): rule({"GET": STAFF}),
    ("public", "api-reports"): rule({"GET": STAFF, "POST": STAFF}),
    ("public", "api-schema"): rule({"GET": ANYONE}),
    ("public", "api-sla-calendars"): rule({"POST": PADMIN}),
    ("public", "api-sla-policies"): rule({"POST": PADMIN}),
    ("public", "api-sla-timer-action"): rule({"POST": OPERATORS}, params={"action": "pause"}),
    ("public", "api-whoami"): rule({"GET": STAFF | KEYS}),
    ("public", "console-calendar"): rule({"GET": STAFF, "POST": STAFF}),
    ("public", "console-calendar-new"): rule({"GET": PADMIN, "POST": PADMIN}),
    ("public", "console-calendars"): rule({"GET": STAFF, "POST": STAFF}),
    ("public", "console-contract"): rule({"GET": STAFF, "POST": STAFF}),
    ("public", "console-contract-edit"): rule({"GET": PADMIN, "POST": PADMIN}),
    ("public", "console-contract-new"): rule({"GET": PADMIN, "POST": PADMIN}),
    ("public", "console-contract-publish"): rule({"POST": PADMIN}),
    ("public", "console-contract-version"): rule({"GET": STAFF, "POST": STAFF}),
    ("public", "console-customer-new"): rule({"GET": PADMIN, "POST": PADMIN}),
    ("public", "console-customer-offboard"): rule({"GET": PADMIN, "POST": PADMIN}),
    ("public", "console-customer-resume"): rule({"POST": PADMIN}),
    ("public", "console-customer-status"): rule({"GET": PADMIN, "POST": PADMIN}),
    ("public", "console-customer-suspend"): rule({"POST": PADMIN}),
    ("public", "console-escalation"): rule({"GET": STAFF, "POST": STAFF}),
    ("public", "console-fire-drill"): rule({"POST": OPERATORS}),
    ("public", "console-incident"): rule({"GET": STAFF, "POST": STAFF}),
    ("public", "console-incident-action"): rule({"POST": OPERATORS}, params={"action": "note"}),
    ("public", "console-incidents"): rule({"GET": STAFF, "POST": STAFF}),
    ("public", "console-matrix-new"): rule({"GET": PADMIN, "POST": PADMIN}),
    ("public", "console-matrix-version"): rule({"GET": STAFF, "POST": STAFF}),
    ("public", "console-proposal-action"): rule({"POST": PADMIN}, params={"action": "approve"}),
    ("public", "console-proposals"): rule({"GET": PADMIN, "POST": PADMIN}),
    ("public", "console-proposals-all"): rule({"GET": PADMIN}, wide=True),
    ("public", "console-queue"): rule({"GET": STAFF, "POST": STAFF}, wide=True),
    ("public", "console-report"): rule({"GET": STAFF, "POST": STAFF}),
    ("public", "console-report-action"): rule({"POST": STAFF}, params={"action": "refresh"}),
    ("public", "console-report-generate"): rule({"POST": STAFF}),
    ("public", "console-reports"): rule({"GET": STAFF, "POST": STAFF}),
    ("public", "console-sla"): rule({"GET": STAFF, "POST": STAFF}),
    ("public", "console-sla-new"): rule({"GET": PADMIN, "POST": PADMIN}),
    ("public", "console-sla-policy"): rule({"GET": STAFF, "POST": STAFF}),
    ("public", "console-sla-policy-retarget"): rule({"POST": PADMIN}),
    ("public", "console-sla-report"): rule({"GET": STAFF, "POST": STAFF}, wide=True),
    ("public", "console-staff"): rule({"GET": PADMIN}),
    ("public", "console-staff-action"): rule({"POST": PADMIN}, params={"action": "deactivate"}),
    ("public", "console-staff-detail"): rule({"GET": PADMIN}),
    ("public", "console-staff-new"): rule({"GET": PADMIN, "POST": PADMIN}),
    ("public", "home"): rule({"GET": STAFF, "POST": STAFF}, wide=True),
    ("public", "login"): rule({"GET": ANYONE, "POST": ANYONE}),
    ("public", "login-enrol"): rule({"GET": NOBODY, "POST": NOBODY}),
    ("public", "login-verify"): rule({"GET": NOBODY, "POST": NOBODY}),
    ("public", "logout"): rule({"POST": NOBODY}),
    ("public", "password_change"): rule({"GET": STAFF, "POST": STAFF}),
    ("public", "password_change_done"): rule({"GET": STAFF}),
    ("public", "password_reset"): rule({"GET": ANYONE, "POST": ANYONE}),
    ("public", "password_reset_complete"): rule({"GET": ANYONE}),
    ("public", "password_reset_confirm"): rule({"GET": ANYONE, "POST": ANYONE}),
    ("public", "password_reset_done"): rule({"GET": ANYONE}),
    ("public", "readyz"): rule({"GET": ANYONE, "POST": ANYONE}),
    ("tenant", "account"): rule({"GET": PORTAL, "POST": PORTAL}),
    ("tenant", "account-totp-enrol"): rule({"GET": PORTAL, "POST": PORTAL}),
    ("tenant", "account-totp-remove"): rule({"POST": PORTAL}),
    ("tenant", "api-alert"): rule({"GET": READERS}),
    ("tenant", "api-alerts"): rule({"GET": READERS, "POST": KEY_INGEST}),
    ("tenant", "api-docs"): rule({"GET": ANYONE}),
    ("tenant", "api-my-contact"): rule({"GET": READERS}),
    ("tenant", "api-my-contacts"): rule({"GET": READERS}),
    ("tenant", "api-my-contract"): rule({"GET": READERS}),
    ("tenant", "api-my-escalation-matrix"): rule({"GET": READERS}),
    ("tenant", "api-my-incident"): rule({"GET": READERS}),
    ("tenant", "api-my-incident-ack"): rule({"POST": RESPONDERS | KEY_READ}),
    ("tenant", "api-my-incident-action"): rule({"GET": READERS, "PATCH": RESPONDERS}),
    ("tenant", "api-my-incident-actions"): rule({"GET": READERS, "PATCH": RESPONDERS}, absent=("PATCH",)),
    ("tenant", "api-my-incidents"): rule({"GET": READERS}),
    ("tenant", "api-my-proposal"): rule({"GET": READERS}),
    ("tenant", "api-my-proposal-withdraw"): rule({"POST": CUSTOMER_ADMIN}),
    ("tenant", "api-my-proposals"): rule({"GET": READERS, "POST": CUSTOMER_ADMIN}),
    ("tenant", "api-my-report"): rule({"GET": READERS}),
    ("tenant", "api-my-report-pdf"): rule({"GET": READERS}),
    ("tenant", "api-my-reports"): rule({"GET": READERS}),
    ("tenant", "api-schema"): rule({"GET": ANYONE}),
    ("tenant", "api-users"): rule({"GET": READERS}),
    ("tenant", "api-whoami"): rule({"GET": PORTAL | KEYS}),
    ("tenant", "contact-verify"): rule({"GET": ANYONE, "POST": ANYONE}),
    ("tenant", "escalation-ack"): rule({"GET": ANYONE, "POST": ANYONE}),
    ("tenant", "home"): rule({"GET": PORTAL}),
    ("tenant", "login"): rule({"GET": ANYONE, "POST": ANYONE}),
    ("tenant", "login-enrol"): rule({"GET": NOBODY, "POST": NOBODY}),
    ("tenant", "login-verify"): rule({"GET": NOBODY, "POST": NOBODY}),
    ("tenant", "logout"): rule({"POST": NOBODY}),
    ("tenant", "password_change"): rule({"GET": PORTAL, "POST": PORTAL}),
    ("tenant", "password_change_done"): rule({"GET": PORTAL}),
    ("tenant", "password_reset"): rule({"GET": ANYONE, "POST": ANYONE}),
    ("tenant", "password_reset_complete"): rule({"GET": ANYONE}),
    ("tenant", "password_reset_confirm"): rule({"GET": ANYONE, "POST": ANYONE}),
    ("tenant", "password_reset_done"): rule({"GET": ANYONE}),
    ("tenant", "portal-access-log"): rule({"GET": CUSTOMER_ADMIN}),
    ("tenant", "portal-alert"): rule({"GET": PORTAL}),
    ("tenant", "portal-alerts"): rule({"GET": PORTAL}),
    ("tenant", "portal-api-key-revoke"): rule({"POST": CUSTOMER_ADMIN}),
    ("tenant", "portal-api-keys"): rule({"GET": CUSTOMER_ADMIN, "POST": CUSTOMER_ADMIN}),
    ("tenant", "portal-contract"): rule({"GET": PORTAL}),
    ("tenant", "portal-escalation"): rule({"GET": PORTAL}),
    ("tenant", "portal-incident"): rule({"GET": PORTAL}),
    ("tenant", "portal-incident-ack"): rule({"POST": RESPONDERS}),
    ("tenant", "portal-incident-action-status"): rule({"POST": RESPONDERS}),
    ("tenant", "portal-incident-comment"): rule({"POST": RESPONDERS}),
    ("tenant", "portal-incidents"): rule({"GET": PORTAL}),
    ("tenant", "portal-proposal-withdraw"): rule({"POST": CUSTOMER_ADMIN}),
    ("tenant", "portal-propose-add"): rule({"POST": CUSTOMER_ADMIN}),
    ("tenant", "portal-propose-archive"): rule({"POST": CUSTOMER_ADMIN}),
    ("tenant", "portal-propose-change"): rule({"GET": CUSTOMER_ADMIN, "POST": CUSTOMER_ADMIN}),
    ("tenant", "portal-report"): rule({"GET": PORTAL}),
    ("tenant", "portal-reports"): rule({"GET": PORTAL}),
    ("tenant", "portal-users"): rule({"GET": PORTAL}),
    ("tenant", "readyz"): rule({"GET": ANYONE, "POST": ANYONE}),
}
