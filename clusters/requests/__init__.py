"""The request workflow: teams file requests (new cluster, topic, access, changes and removals), admins
or auto-approval rules decide them, and an approval hands the work to the provisioning engine. It owns
the services that write requests and their events (`services`), quotas and limits (`limits`), the API's
Idempotency-Key replay (`idempotency`), the IAM policies a grant carries (`policies`), notifications
to the people concerned (`notifications`) and their Celery tasks (`tasks`). MSK and Kafka naming rules
stay in `clusters.rules`, beside the models that validate with them.
"""
