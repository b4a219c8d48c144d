"""factory_boy factories. They write through the ORM in the current schema: wrap in ``schema_context``."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from mdr.accounts import keys
from mdr.accounts.models import Role, User
from tenants.models import ApiKey, Customer

PASSWORD = "correct horse battery staple"


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = Role.VIEWER
    language = "en"

    @factory.post_generation
    def password(self, create: bool, extracted: str | None, **kwargs) -> None:
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])


class ApiKeyFactory(DjangoModelFactory[ApiKey]):
    """An API key row; the plaintext is on the instance as ``plaintext`` (never stored)."""

    class Meta:
        model = ApiKey

    customer = factory.LazyFunction(lambda: Customer.objects.get(slug="acme"))
    name = factory.Sequence(lambda n: f"key {n}")
    scopes = factory.LazyFunction(lambda: ["read"])

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        generated = keys.generate()
        obj = super()._create(model_class, *args, public_id=generated.public_id, digest=generated.digest, **kwargs)
        obj.plaintext = generated.plaintext
        return obj
