"""Gateway adapters, one package per gateway, behind the protocol in `base`."""
