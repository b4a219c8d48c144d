"""``native``: our own documented alert shape, for tools and scripts that write to us directly.

| native field | normalised | notes |
| --- | --- | --- |
| ``title`` (required) | title | |
| ``severity`` (required) | severity_id | 0-6 (OCSF ids) or a name: informational, low, medium, high, critical, fatal |
| ``observed_at`` (required) | observed_at | ISO 8601 with offset, or epoch seconds/ms |
| ``id`` | external_id, dedup | the sender's own id; without it the dedup key hashes title, rule, time, hosts |
| ``description``, ``category`` | description, category | |
| ``rule.id``, ``rule.name`` | rule_id, rule_name | |
| ``attack.tactics[]``, ``attack.techniques[]`` | tactics, techniques | ATT&CK ids or names |
| ``source.product``, ``source.vendor`` | source_product, source_vendor | default "Custom" |
| ``hosts[]``, ``ips[]``, ``users[]`` | hosts, ips, users | |
| ``cloud.provider``, ``cloud.account``, ``cloud.region`` | cloud_* | |

Detection: an object with ``title``, ``severity`` and ``observed_at`` at the top level.
"""

from mdr.alerts.adapters.base import (
    Adapter,
    AdapterError,
    NormalizedAlert,
    as_list,
    dedup_from_fields,
    dedup_from_id,
    dig,
    parse_time,
    register,
    severity_from_name,
)


def _text(value) -> str:
    """An identifier as text; 0 is an id like any other, only None and "" are missing."""
    return "" if value is None else str(value)


@register
class NativeAdapter(Adapter):
    name = "native"
    product = "Custom"
    vendor = "Custom"
    detect_priority = 90

    def detect(self, item) -> bool:
        return isinstance(item, dict) and "title" in item and "severity" in item and "observed_at" in item

    def normalize(self, item) -> NormalizedAlert:
        errors = {}
        title = item.get("title")
        if not isinstance(title, str) or not title.strip():
            errors["title"] = ["required, a non-empty string"]
        severity = item.get("severity")
        severity_id = severity if isinstance(severity, int) and not isinstance(severity, bool) else None
        if severity_id is None:
            severity_id = severity_from_name(severity)
        if severity_id is None or not 0 <= severity_id <= 6:
            errors["severity"] = ["required: 0-6 or one of informational, low, medium, high, critical, fatal"]
        try:
            observed_at = parse_time(item.get("observed_at"), "observed_at")
        except AdapterError as exc:
            errors.update(exc.errors)
        if errors:
            raise AdapterError(errors)
        external_id = _text(item.get("id"))
        rule_id = _text(dig(item, "rule.id"))
        hosts = as_list(item.get("hosts"))
        product = _text(dig(item, "source.product")) or self.product
        dedup = (
            dedup_from_id(self.name, product, external_id)
            if external_id
            else dedup_from_fields(
                self.name, title, rule_id, observed_at.isoformat(), *sorted(str(h).lower() for h in hosts)
            )
        )
        return NormalizedAlert(
            source_format=self.name,
            source_product=product,
            source_vendor=str(dig(item, "source.vendor") or self.vendor),
            title=title,
            severity_id=severity_id,
            severity_raw=str(severity),
            observed_at=observed_at,
            dedup_key=dedup,
            raw=item,
            external_id=external_id,
            description=item.get("description") or "",
            category=item.get("category") or "",
            rule_id=rule_id,
            rule_name=str(dig(item, "rule.name") or ""),
            tactics=as_list(dig(item, "attack.tactics")),
            techniques=as_list(dig(item, "attack.techniques")),
            hosts=hosts,
            ips=as_list(item.get("ips")),
            users=as_list(item.get("users")),
            cloud_provider=str(dig(item, "cloud.provider") or ""),
            cloud_account=str(dig(item, "cloud.account") or ""),
            cloud_region=str(dig(item, "cloud.region") or ""),
        )
