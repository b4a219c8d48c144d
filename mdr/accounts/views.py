"""Login and logout pages, shared by the console (public schema) and the portal (customer schema)."""

from django.contrib.auth import views as auth_views

from mdr.audit.services import Actor, audit_record


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        audit_record(
            actor=Actor.from_request(self.request),
            action="auth.login",
            target_type="user",
            target_id=self.request.user.pk,
        )
        return response

    def form_invalid(self, form):
        username = (form.data.get("username") or "")[:150]
        audit_record(
            actor=Actor(type="anonymous", name="anonymous", ip_address=self.request.META.get("REMOTE_ADDR")),
            action="auth.login_failed",
            target_type="user",
            data={"username": username},
        )
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            audit_record(
                actor=Actor.from_request(request),
                action="auth.logout",
                target_type="user",
                target_id=request.user.pk,
            )
        return super().post(request, *args, **kwargs)
