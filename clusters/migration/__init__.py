"""The migration assistant: moving a monolithic Kafka cluster onto many MSK Serverless clusters (issue 13).

For now this package owns only the pure planning core: `packing` decides which applications share which
planned cluster under every binding Serverless quota at a headroom target, and `quotas` holds the
capacities it packs against (filled by the caller from `PlatformSettings`) and the capacity replication
itself takes. Neither imports a Django model or does I/O, so the inventory, plan, execution and cutover
code that comes with issue 13 can call them from services, selectors and tasks alike.
"""
