"""ecslite: a self-hosted Elastic Cloud Server API centred on reinstalling a server's OS."""

__version__ = "0.1.0"
