"""The operator console, served under `/console`: server-rendered pages (Jinja2) for a
merchant's owner and support staff, and for hub admins.

    app          the console's ASGI app (mounted by `payhub.asgi`), error pages, routers
    auth         sessions (cookie → `services.console_users`), login, logout, CSRF,
                 the role check of every POST, login rate limits
    roles        the one table of role → allowed actions
    i18n         the Vietnamese and English text
    formatting   amounts and times as the operator's locale writes them
    rendering    templates and the context every page gets

Every action a page offers calls the same service function as the API, with
`actor="console:<user id>"`; the services write the audit rows. See docs/console.md.
"""
