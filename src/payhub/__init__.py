"""payhub: a self-hosted payment hub for Southeast-Asian gateways."""
