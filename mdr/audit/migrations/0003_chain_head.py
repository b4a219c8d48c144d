"""The anchor of each schema's audit chain: ``public.audit_chain_head`` holds, per schema, the id and hash of its last
audit row and the number of rows, written in the same transaction as each row (mdr/audit/services.py). Without it a
deleted *last* row leaves a shorter chain that is still intact; with it ``verify_audit`` sees the tail is missing.

Rows are keyed by the schema's oid, not its name: a customer schema dropped (offboarding) and a new one created with
the same name start a new chain. The table refuses DELETE and TRUNCATE, and an UPDATE that moves a head backwards.
Each schema's existing chain is anchored where it ends now (this migration runs in public first, then each schema).
"""

from django.db import migrations

CREATE = """
CREATE TABLE IF NOT EXISTS public.audit_chain_head (
    schema_oid bigint PRIMARY KEY,
    schema_name text NOT NULL,
    last_id bigint NOT NULL,
    last_hash varchar(64) NOT NULL,
    row_count bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION public.audit_chain_head_forbid_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.schema_oid = OLD.schema_oid AND NEW.row_count > OLD.row_count
            AND NEW.last_id > OLD.last_id THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_chain_head only moves forward (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_chain_head_forward_only ON public.audit_chain_head;
CREATE TRIGGER audit_chain_head_forward_only BEFORE UPDATE OR DELETE ON public.audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION public.audit_chain_head_forbid_change();
DROP TRIGGER IF EXISTS audit_chain_head_no_truncate ON public.audit_chain_head;
CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON public.audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION public.audit_chain_head_forbid_change();
"""

ANCHOR = """
INSERT INTO public.audit_chain_head (schema_oid, schema_name, last_id, last_hash, row_count)
SELECT (SELECT oid FROM pg_namespace WHERE nspname = current_schema()), current_schema(), last.id, last.hash, n.count
FROM (SELECT id, hash FROM audit_auditevent ORDER BY id DESC LIMIT 1) AS last, (SELECT count(*) FROM audit_auditevent) AS n
ON CONFLICT (schema_oid) DO NOTHING
"""


def anchor(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        if getattr(schema_editor.connection, "schema_name", "public") == "public":
            cursor.execute(CREATE)
        cursor.execute(ANCHOR)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only")]

    operations = [migrations.RunPython(anchor, migrations.RunPython.noop)]
