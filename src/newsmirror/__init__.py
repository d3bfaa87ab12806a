"""newsmirror: keep news where censorship cannot reach it.

Feeds are fetched into one SQLite archive, and the archive is published as a
Jekyll tree (and, later, a static site and feeds) that anyone can host or clone.
"""

__version__ = "0.1.0"
