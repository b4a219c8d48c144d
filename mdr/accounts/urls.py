"""Sign-in steps, the account page and the password pages: the same on the provider and the customer domains."""

from django.urls import path

from mdr.accounts import views

urlpatterns = [
    path("login/verify/", views.login_verify, name="login-verify"),
    path("login/enrol/", views.login_enrol, name="login-enrol"),
    path("account/", views.account, name="account"),
    path("account/totp/enrol", views.account_totp_enrol, name="account-totp-enrol"),
    path("account/totp/remove", views.account_totp_remove, name="account-totp-remove"),
    path("password/change/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/done/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password/reset/complete/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
