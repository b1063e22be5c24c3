"""The public form of a stored credential: never its secret fields."""

from __future__ import annotations

from pydantic import Field

from dockyard.core.base import CamelModel


class Credential(CamelModel):
    credential_id: str
    name: str
    credential_type: str = Field(description="basic, api_token, bearer, s3, oauth, gcp, …")
    description: str = ""
    creation_date: str
