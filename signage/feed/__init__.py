"""The district feed on the board: manifest and trust decisions (pure), HTTP (I/O), and the sync that glues them."""
