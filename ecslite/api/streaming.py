"""The one request whose body the middleware does not buffer: a Glance image upload.

Every other body is capped at ``max_body_bytes`` and read whole before authentication (the
AK/SK signature covers its hash). An image file is streamed to disk by its route
(api/routes/glance_writes.py) and bounded there by the image limits, so the body reader and
the credential guard pass it through unread; it is authenticated by its token alone.
"""

from __future__ import annotations

import re

from starlette.types import Scope

_UPLOAD_PATH = re.compile(r"^/image/v2/images/[^/]+/file$")


def is_streamed_upload(scope: Scope) -> bool:
    return scope.get("method") == "PUT" and _UPLOAD_PATH.match(scope["path"]) is not None
