"""Provider console pages (provider domain, public schema). Views only: reads via selectors."""

from django.shortcuts import render

from mdr.accounts.permissions import capability_required
from tenants.selectors import customer_list


@capability_required("customer.list")
def home(request):
    return render(request, "console/home.html", {"customers": customer_list().prefetch_related("domains")})
