"""HTTP routes (being built)."""

from fastapi import APIRouter

users_router = APIRouter()
tokens_router = APIRouter()
