"""notify: receivers (webhook, Slack, Teams, email, PagerDuty, Opsgenie,
Apprise) and the delivery policy (retries, deadlines, rate limits).

Public surface: `tocsin.notify.types` (Notification, NotifyAlert, Integration,
KeyValueStore), `tocsin.notify.registry` (build_receiver, build_integration),
`tocsin.notify.retry` (Retrier, BackoffPolicy, RateLimiter, DeliveryAttempt).
"""
