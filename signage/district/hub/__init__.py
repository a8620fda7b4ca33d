"""The district hub: receives the boards' signed reports and screenshots and shows them to district officers."""

from signage.district.hub.app import create_app
from signage.district.hub.config import HubConfig

__all__ = ["HubConfig", "create_app"]
