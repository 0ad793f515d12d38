"""Authentication and tenancy: who is calling, and which project they may act in.

- ``signature``: the SDK-HMAC-SHA256 canonical request (shared by the verifier and our client)
- ``authenticator``: turn a request's credentials (AK/SK signature or ``X-Auth-Token``) into an
  ``Identity``, and an identity plus the URL's project into a ``Principal``
- ``keystone``: password login that issues project-scoped tokens (``POST /v3/auth/tokens``)
- ``credentials``: create access keys for operators
- ``httpx_auth``: an ``httpx.Auth`` that signs requests like the official SDK does
"""
