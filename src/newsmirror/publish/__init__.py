"""Publishers: everything derived from the archive (Jekyll tree, later site and feeds)."""
