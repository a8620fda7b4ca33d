"""The district side: keys, publishing the signed static feed, verifying it."""
