"""Provider console pages (provider domain, public schema). Views only: reads via selectors."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mdr.accounts.permissions import capability_required
from mdr.audit.services import Actor
from tenants.selectors import customer_list


@capability_required("customer.list")
def home(request):
    return render(request, "console/home.html", {"customers": customer_list().prefetch_related("domains")})


@require_POST
@capability_required("alert.triage")
def fire_drill(request, slug: str):
    """Start a fire drill for one customer (runs in a worker; the report lands on the drill's incident)."""
    from mdr.escalations.drill import fire_drill_request

    customer = customer_list().filter(slug=slug).first()
    if customer is None:
        raise Http404("No such customer.")
    fire_drill_request(actor=Actor.from_request(request), schema_name=customer.schema_name)
    messages.success(request, f"Fire drill started for {customer.name}: its report is on the drill's incident.")
    return redirect("home")
