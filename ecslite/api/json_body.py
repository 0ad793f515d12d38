"""A JSON response for bodies that are already plain data (dicts, lists, str, int, None).

FastAPI passes a route's returned dict through ``jsonable_encoder`` (a recursive walk that
copies it) and then ``json.dumps``; a body built by the views needs neither. The bytes are the
same compact UTF-8 JSON ``JSONResponse`` writes.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class JsonBody(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
