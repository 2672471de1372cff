"""Response models of the merchant API, one module per resource.

Each model is the exact shape a read model's `as_dict()` gives (same members, same order;
`extra="forbid"`, so a member added to a read model and not here fails the response in the
tests rather than vanishing from the contract). Routes declare them as `response_model`;
the problem document every error answers with is `common.Problem`.
"""
