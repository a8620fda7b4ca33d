"""Decoding media files: images (and, later, text files, PDF pages, video and audio)."""
