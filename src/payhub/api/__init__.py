"""HTTP layer: the merchant API v1 (`v1` assembles one router per resource: orders,
payments, refunds, products, customers, gateways, webhooks, events, review), gateway
callbacks and returns, problem+json errors, idempotency, who is calling."""
