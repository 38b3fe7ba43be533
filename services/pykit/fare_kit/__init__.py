"""fare_kit: what the platform's Python services share (standard library only).

Layout:
- config: the settings fare hands every service (docs/services.md).
- aws: SNS and SQS over the AWS query API, signed with Signature V4.
- envelope: the event envelope, parsed and made.
- identity: service identity tokens, and the session check users answers.
- consumer: the queue loop: receive, handle once (inbox), delete on success.
- service: the HTTP server (/health, /ready, /pending), logging, SIGTERM.
"""
