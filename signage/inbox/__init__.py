"""The commune's drop folder and USB stick: local notices in, bad files set aside with a reason."""
