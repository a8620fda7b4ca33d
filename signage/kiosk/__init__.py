"""Running as a kiosk under systemd: service notifications, screen power, and the health check."""
