"""OAuth 2.0 protocol pieces, one module per RFC."""
