"""Whether Nova's door hands out instance passwords: nova.conf's ``[api]
enable_instance_password``, ecslite's ``nova_instance_password`` setting.

On (the default): a Nova create with neither ``adminPass`` nor ``key_name`` gets a generated
password, and a create or rebuild answers the password it applied. Off, as Nova with the option
False: no create or rebuild answer carries ``adminPass``; a given one is still applied to the
guest (Nova passes it on either way), and none is generated, since nobody could learn it. Nova
would still generate one and keep it secret; a password no one knows only widens access.
The ECS door is not concerned (it always answers without a password).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ecslite.domain.reinstall import generate_password


@dataclass(frozen=True)
class InstancePasswords:
    returned: bool = True

    def for_create(
        self, given: str | None, key_name: str | None, cloud_init: Callable[[], bool]
    ) -> str | None:
        """The password a Nova create applies. ``cloud_init`` tells whether the image can apply
        one (asked only when a password would be generated: a generated one an image cannot
        apply would refuse the create)."""
        if given is not None or key_name is not None:
            # With a key pair the key is the login: a password nobody asked for would only
            # widen access (docs/api.md, "Password").
            return given
        if not self.returned:
            return None
        return generate_password() if cloud_init() else None

    def shown(self, applied: str | None) -> str | None:
        """What a create or rebuild answer carries as ``adminPass`` (None: no member)."""
        return applied if self.returned else None
