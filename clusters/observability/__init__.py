"""Team observability (issue 14): throughput against the MSK Serverless limits, consumer lag, alerts.

Owns the metric samples the portal keeps (per topic, per consumer group × topic; 5-minute points for two
days, hourly for 60 days), their collection (a beat task per AWS account and region, through the provider
seam: CloudWatch's batched GetMetricData for `aws`, a simulation for `local`), the alert rules and their
episodes (one open episode per rule and subject, notified once when it opens and once when it clears),
the remedy an alert carries (the partitions the observed peak needs, the migration planner), and the
pages that show all of it. Pages read only what was stored; they never call AWS.
"""
