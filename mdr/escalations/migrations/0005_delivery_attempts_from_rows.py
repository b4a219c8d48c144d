from django.db import migrations


def _attempts_from_old_rows(apps, schema_editor):
    """Before this migration a Delivery row was one attempt: keep it as the delivery and its single attempt."""
    Delivery = apps.get_model("escalations", "Delivery")
    DeliveryAttempt = apps.get_model("escalations", "DeliveryAttempt")
    for delivery in Delivery.objects.all():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=1,
            at=delivery.created_at,
            ok=delivery.ok,
            status_code=delivery.status_code,
            error=delivery.error,
        )
        delivery.attempts = 1
        delivery.state = "sent" if delivery.ok else "failed"
        delivery.delivered_at = delivery.created_at if delivery.ok else None
        delivery.last_error = delivery.error
        delivery.save(update_fields=["attempts", "state", "delivered_at", "last_error"])


class Migration(migrations.Migration):
    dependencies = [
        ("escalations", "0004_escalation_outbox"),
    ]

    operations = [
        migrations.RunPython(_attempts_from_old_rows, migrations.RunPython.noop),
    ]
