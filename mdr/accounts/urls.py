"""urls (filled in by the issue-8 work that owns it)."""

urlpatterns: list = []
