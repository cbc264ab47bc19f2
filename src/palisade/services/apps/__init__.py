"""Apps and partners under consent: registration, the OAuth 2.0 authorization server, the
resource-side token check, and the Graph API behind the friend-data firewall."""
