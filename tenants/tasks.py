"""Customer lifecycle actors: thin wrappers around the services in ``tenants``."""

import dramatiq

from tenants.offboarding import offboarding_run_execute


# Public: the customer's schema is what the run drops. Not retried: the run records its failure for the admin, who
# starts a new one (an export directory is never written twice). A big customer's export may take hours.
@dramatiq.actor(tenant_scope="public", queue_name="default", max_retries=0, time_limit=6 * 3600 * 1000)
def customer_offboard_task(run_id: int) -> None:
    offboarding_run_execute(run_id=int(run_id))
