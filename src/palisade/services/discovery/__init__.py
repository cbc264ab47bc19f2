"""Contact discovery: address-book sync (`sync`) guarded by the defences in `guard`."""
