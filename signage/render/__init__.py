"""Layout and drawing: header, slides, ticker, transitions, typesetting (pygame-ce)."""
