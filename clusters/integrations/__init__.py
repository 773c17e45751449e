"""The outside systems, one module each, and nothing else: the AWS control plane for MSK, IAM and STS
(`aws_control`), the Kafka admin protocol (`kafka_admin`), CloudWatch usage metrics (`cloudwatch`), Cost
Explorer (`cost_explorer`) and the client settings shown to users (`client_config`). These are the only
modules that import boto3, botocore or confluent_kafka; each translates its library's errors into
`integrations.errors` and speaks in `integrations.records` values. They import nothing of the portal's but
each other and Django settings, so they can be read, tested and replaced on their own.
"""
