"""Administering the source system in the browser: communes, people and roles, boards, groups, commands, the record."""

from __future__ import annotations

from starlette.routing import BaseRoute

from signage.district.hub.context import HubContext


def routes(ctx: HubContext) -> list[BaseRoute]:
    return []
