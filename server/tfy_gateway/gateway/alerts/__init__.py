"""Budget alerts: a persistent outbox that delivers each threshold crossing exactly once.

Budget enforcement builds an `Alert` when a rule's spend crosses a threshold and calls
`AlertOutbox.submit(alert)` (the data plane's `plane.alerts`). The outbox stores it in
`<data-dir>/alerts.db` (or the PostgreSQL database replicas share), deduplicated by (config, rule,
entity, period, threshold) across workers and replicas, and a background task delivers it to each
notification target (Slack webhook or bot, Microsoft Teams, PagerDuty, email) under one idempotency
key, retrying with exponential backoff and resuming after a restart. `AlertOutbox.list` serves
`GET /api/svc/v1/llm-gateway/alerts`.
"""

from tfy_gateway.gateway.alerts.alert import TARGET_TYPES, Alert, AlertError
from tfy_gateway.gateway.alerts.channels import ChannelError, ChannelResolver
from tfy_gateway.gateway.alerts.clock import Clock, ManualClock, SystemClock
from tfy_gateway.gateway.alerts.notifiers import DEFAULT_PAGERDUTY_URL, DEFAULT_SLACK_API_URL, Endpoints
from tfy_gateway.gateway.alerts.outbox import AlertOutbox
from tfy_gateway.gateway.alerts.query import ALERT_STATUSES, AlertFilter, AlertQueryError, read_alerts
from tfy_gateway.gateway.alerts.retry import RetryPolicy
from tfy_gateway.gateway.alerts.schema import ALERTS_FILE, AlertsFileError

__all__ = [
    "ALERTS_FILE",
    "ALERT_STATUSES",
    "DEFAULT_PAGERDUTY_URL",
    "DEFAULT_SLACK_API_URL",
    "TARGET_TYPES",
    "Alert",
    "AlertError",
    "AlertFilter",
    "AlertOutbox",
    "AlertQueryError",
    "AlertsFileError",
    "ChannelError",
    "ChannelResolver",
    "Clock",
    "Endpoints",
    "ManualClock",
    "RetryPolicy",
    "SystemClock",
    "read_alerts",
]
