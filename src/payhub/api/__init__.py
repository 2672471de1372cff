"""HTTP layer: merchant API v1, gateway callbacks and returns, problem+json errors."""
