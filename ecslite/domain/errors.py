"""The one catalogue of API error codes.

Every refusal the API makes is an ``EcsError`` carrying its wire ``code``, HTTP status and a
message. Codes and default messages follow the ECS error-code appendix; a ``detail`` may be added
to say which rule was broken, never a secret value.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorSpec:
    code: str
    http_status: int
    message: str


class EcsError(Exception):
    """An error the API reports as ``{"error": {"code": ..., "message": ...}}``."""

    def __init__(self, spec: ErrorSpec, detail: str | None = None) -> None:
        self.spec = spec
        self.code = spec.code
        self.http_status = spec.http_status
        self.message = f"{spec.message} {detail}" if detail else spec.message
        super().__init__(f"{self.code}: {self.message}")


def _e(code: str, status: int, message: str) -> ErrorSpec:
    return ErrorSpec(code=code, http_status=status, message=message)


REQUEST_ERROR = _e("Ecs.0000", 400, "Request error. Try again later or contact customer service.")
SYSTEM_ERROR = _e(
    "Ecs.0002", 400, "A system exception occurred. Try again later or contact customer service."
)
FORBIDDEN = _e("Ecs.0003", 403, "You do not have permission to perform this operation.")
INVALID_PARAMETER = _e("Ecs.0005", 400, "Invalid parameter values.")
INVALID_IMAGE = _e("Ecs.0007", 400, "Invalid image attributes.")
PASSWORD_COMPLEXITY = _e(
    "Ecs.0011", 400, "Ensure the password meets the password complexity requirements."
)
PROJECT_MISMATCH = _e("Ecs.0023", 400, "project_id in token mismatches with project_id in url.")
IMAGE_NOT_FOUND = _e("Ecs.0031", 400, "The image does not exist.")
IMAGE_NOT_ACTIVE = _e("Ecs.0032", 400, "The image is not in Active state.")
ECS_QUOTA = _e(
    "Ecs.0001", 400, "Insufficient ECS quota. Contact customer service to increase quota."
)
INVALID_FLAVOR = _e("Ecs.0008", 400, "Invalid flavor.")
SUBNET_EXHAUSTED = _e(
    "Ecs.0012",
    400,
    "The subnet does not contain enough IP addresses. Release some IP addresses or select a "
    "different subnet.",
)
BAD_NETWORK = _e("Ecs.0014", 400, "Incorrect VPC, subnet, or security group parameter values.")
VOLUME_QUOTA = _e(
    "Ecs.0021", 400, "Insufficient EVS disk quota. Contact customer service to increase quota."
)
FLAVOR_NOT_FOUND = _e("Ecs.0029", 400, "The flavor does not exist.")
SUBNET_NOT_FOUND = _e("Ecs.0038", 400, "The subnet does not exist.")
BAD_VOLUME_TYPE = _e("Ecs.0043", 400, "The disk type does not exist.")
VPC_SUBNET_MISMATCH = _e(
    "Ecs.0064", 400, "The VPC ID in the request is inconsistent with that in the main subnet ID."
)
NAME_TOO_LONG = _e("Ecs.0914", 400, "The length of the ECS name exceeds the maximum allowed limit.")
NAME_INVALID = _e("Ecs.0915", 400, "The ECS name contains invalid characters.")
BAD_SERVER_STATE = _e(
    "Ecs.0100",
    400,
    "The ECS status does not meet requirements. Make the ECS in the required status and try again.",
)
NO_SYSTEM_DISK = _e(
    "Ecs.0105", 400, "No system disk found. Attach the system disk to the ECS and try again."
)
NO_VALID_HOST = _e("Ecs.0319", 400, "Insufficient resources for this flavor. Try another flavor.")
SERVER_NOT_FOUND = _e("Ecs.0114", 404, "The ECS does not exist.")
KEYPAIR_NOT_FOUND = _e(
    "Ecs.0314",
    400,
    "The key pair does not exist. Refresh the key pair list and check the key pair.",
)
BATCH_FAILED = _e("Ecs.0611", 400, "Batch operation failed.")
BAD_ENCRYPTION_KEY = _e("Ecs.0912", 400, "Invalid disk encryption key.")
CLIENT_TOKEN_CONFLICT = _e(
    "Ecs.0005", 409, "X-Client-Token was already used for a different request."
)
EMPTY_BODY = _e("Common.0002", 400, "The request body cannot be left blank.")
JOB_NOT_FOUND = _e("Common.0011", 400, "Failed to query system tasks.")
JOB_ENDED = _e("Ecs.0005", 409, "The job has already ended.")
# One answer for every authentication failure: it must not tell which check failed.
UNAUTHORIZED = _e(
    "Common.0013",
    401,
    "Invalid token. The request is not authenticated: sign it with an access key "
    "(SDK-HMAC-SHA256) or send a valid X-Auth-Token.",
)
PROJECT_MISMATCH_COMMON = _e(
    "Common.0018", 400, "The project ID in the URL is different from that in the token."
)
SUBJOB_FAILED = _e("Common.0021", 400, "Subjob fails.")
# Nova-compatible routes (key pairs) answer with the same envelope; these codes name them.
KEYPAIR_EXISTS = _e("Ecs.0005", 409, "The key pair already exists.")
NOT_FOUND = _e("Ecs.0000", 404, "The requested resource does not exist.")
METHOD_NOT_ALLOWED = _e("Ecs.0000", 405, "The method is not allowed for this resource.")
PAYLOAD_TOO_LARGE = _e("Ecs.0005", 413, "The request body is too large.")
UNSUPPORTED_MEDIA = _e(
    "Ecs.0005", 415, "The request body must be JSON (Content-Type: application/json)."
)
HEADERS_TOO_LARGE = _e("Ecs.0005", 431, "The request headers are too large.")
# The API gateway's throttling answer (always with Retry-After): login throttling, full queues.
TOO_MANY_REQUESTS = _e(
    "APIGW.0308", 429, "The request is throttled. Retry after the time in Retry-After."
)
# The Elastic Volume Service's codes (its routes answer in the same envelope).
VOLUME_NOT_FOUND = _e("EVS.5404", 404, "The volume could not be found.")
VOLUME_NOT_DELETABLE = _e(
    "EVS.1046",
    400,
    "The volume cannot be deleted in its current status: it must be available (not attached "
    "and not used by another operation).",
)
EVS_BAD_QUERY = _e("EVS.5400", 400, "Malformed request url.")
EVS_BAD_LIMIT = _e("EVS.1023", 400, "Invalid filter limit: it must be 1-1000.")
EVS_BAD_LIMIT_MAX = _e("EVS.2142", 400, "Invalid filter limit: it cannot be greater than 1000.")
EVS_BAD_MARKER = _e("EVS.1024", 400, "Invalid filter marker: no such volume.")
EVS_BAD_SORT_KEY = _e("EVS.1039", 400, "Invalid sort_key: use id, status, size or created_at.")
EVS_BAD_SORT_DIR = _e("EVS.1040", 400, "Invalid sort_dir: use asc or desc.")
SERVICE_BUSY = _e("APIGW.0308", 503, "The service is busy. Retry after the time in Retry-After.")
INTERNAL = _e(
    "Ecs.0002", 500, "A system exception occurred. Try again later or contact customer service."
)

# Glance image writes (the image routes answer them in Nova's envelope by status).
IMAGE_UNKNOWN = _e("Ecs.0031", 404, "No image found with this ID.")
IMAGE_CONFLICT = _e("Ecs.0005", 409, "The image is not in a state that allows this.")
IMAGE_READ_ONLY = _e("Ecs.0003", 403, "The attribute is read-only.")
IMAGE_BAD_DATA = _e("Ecs.0005", 400, "The image data does not match its disk_format.")
IMAGE_TOO_LARGE = _e("Ecs.0005", 413, "The image is larger than the limit.")
IMAGE_QUOTA = _e("Ecs.0005", 413, "The project's image storage quota is exceeded.")
