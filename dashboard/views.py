"""Thin function views: validate, call one domain function, render."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.response import TemplateResponse


def home(request: HttpRequest) -> TemplateResponse:
    return TemplateResponse(request, "home.html")
