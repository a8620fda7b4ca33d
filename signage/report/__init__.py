"""The board's reports to the district hub: proof of play, status, screenshots, command outcomes."""
