"""Writing, previewing, submitting, approving, rejecting and withdrawing bulletins, in the browser."""

from __future__ import annotations

from starlette.routing import BaseRoute

from signage.district.hub.context import HubContext


def routes(ctx: HubContext) -> list[BaseRoute]:
    return []
