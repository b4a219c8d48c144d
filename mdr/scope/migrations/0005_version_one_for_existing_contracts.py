"""Contracts created before versions existed get their version 1: published from the contract's creation, 24x7,
no scope items (everything in scope), as onboarding now creates it."""

from django.db import migrations


def forwards(apps, schema_editor):
    Contract = apps.get_model("scope", "Contract")
    ContractVersion = apps.get_model("scope", "ContractVersion")
    for contract in Contract.objects.filter(versions__isnull=True):
        ContractVersion.objects.create(
            contract=contract,
            number=1,
            status="published",
            valid_from=contract.created_at,
            change_note="version 1 created by migration for a contract that predates versions",
            created_by="migration",
            published_by="migration",
            published_at=contract.created_at,
        )


class Migration(migrations.Migration):
    dependencies = [("scope", "0004_contractversion_priority_matrix")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
