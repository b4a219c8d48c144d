"""History is never rewritten: published contract versions, their scope items and entitlements are frozen.

A published version accepts one change only: ``valid_to`` set once (from NULL), when the next version takes
over. Drafts are free to change. Enforced in the database, so no code path (or console mistake) can bypass it.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION scope_version_frozen() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status = 'published' THEN
            RAISE EXCEPTION 'contract version % is published and cannot be deleted', OLD.id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'published' THEN
        IF (to_jsonb(NEW) - 'valid_to') IS DISTINCT FROM (to_jsonb(OLD) - 'valid_to')
           OR OLD.valid_to IS NOT NULL THEN
            RAISE EXCEPTION 'contract version % is published: history is never rewritten', OLD.id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER scope_contractversion_frozen BEFORE UPDATE OR DELETE ON scope_contractversion
    FOR EACH ROW EXECUTE FUNCTION scope_version_frozen();

CREATE OR REPLACE FUNCTION scope_version_child_frozen() RETURNS trigger AS $$
DECLARE
    version_status text;
BEGIN
    SELECT status INTO version_status FROM scope_contractversion
        WHERE id = COALESCE(NEW.version_id, OLD.version_id);
    IF version_status = 'published' THEN
        RAISE EXCEPTION '% of a published contract version is refused: history is never rewritten', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER scope_scopeitem_frozen BEFORE INSERT OR UPDATE OR DELETE ON scope_scopeitem
    FOR EACH ROW EXECUTE FUNCTION scope_version_child_frozen();
CREATE TRIGGER scope_entitlement_frozen BEFORE INSERT OR UPDATE OR DELETE ON scope_entitlement
    FOR EACH ROW EXECUTE FUNCTION scope_version_child_frozen();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS scope_entitlement_frozen ON scope_entitlement;
DROP TRIGGER IF EXISTS scope_scopeitem_frozen ON scope_scopeitem;
DROP FUNCTION IF EXISTS scope_version_child_frozen();
DROP TRIGGER IF EXISTS scope_contractversion_frozen ON scope_contractversion;
DROP FUNCTION IF EXISTS scope_version_frozen();
"""


class Migration(migrations.Migration):
    dependencies = [("scope", "0002_logsourcestate_scopestate_and_more")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
