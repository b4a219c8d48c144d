"""Provider staff users and roles (provider admins only)."""

from django.urls import path

from mdr.console import views_staff

urlpatterns = [
    path("staff/", views_staff.staff_list, name="console-staff"),
    path("staff/new", views_staff.staff_new, name="console-staff-new"),
    path("staff/<int:user_id>", views_staff.staff_detail, name="console-staff-detail"),
    path("staff/<int:user_id>/<str:action>", views_staff.staff_action, name="console-staff-action"),
]
