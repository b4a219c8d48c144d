"""urls_extra (filled in by the issue-8 work that owns it)."""

urlpatterns: list = []
