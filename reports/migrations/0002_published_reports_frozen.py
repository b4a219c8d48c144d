"""A published report is never changed or deleted, nor its PDF: enforced in the database, so no code path can
bypass it. A new version is a new row."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION reports_report_frozen() RETURNS trigger AS $$
BEGIN
    IF OLD.state = 'published' THEN
        RAISE EXCEPTION 'report % is published and cannot be changed (generate a new version)', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER reports_monthlyreport_frozen BEFORE UPDATE OR DELETE ON reports_monthlyreport
    FOR EACH ROW EXECUTE FUNCTION reports_report_frozen();

CREATE OR REPLACE FUNCTION reports_file_frozen() RETURNS trigger AS $$
DECLARE
    report_state text;
BEGIN
    SELECT state INTO report_state FROM reports_monthlyreport WHERE id = OLD.report_id;
    IF report_state = 'published' THEN
        RAISE EXCEPTION 'the PDF of published report % cannot be changed', OLD.report_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER reports_reportfile_frozen BEFORE UPDATE OR DELETE ON reports_reportfile
    FOR EACH ROW EXECUTE FUNCTION reports_file_frozen();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS reports_reportfile_frozen ON reports_reportfile;
DROP FUNCTION IF EXISTS reports_file_frozen();
DROP TRIGGER IF EXISTS reports_monthlyreport_frozen ON reports_monthlyreport;
DROP FUNCTION IF EXISTS reports_report_frozen();
"""


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
