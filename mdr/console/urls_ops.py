"""Console operations pages: offboarding with confirmation, every customer's pending proposals."""

from django.urls import path

from mdr.console import views_ops

urlpatterns = [
    path("customers/<slug:slug>/offboard", views_ops.customer_offboard, name="console-customer-offboard"),
    path("proposals/", views_ops.proposals_all, name="console-proposals-all"),
]
