"""Apps and partners under consent: purposes, grants, and the friend-data firewall (pure)."""
