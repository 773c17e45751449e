"""The local MSK simulator behind the provider seam (`provider.LocalProvider`), for `make run` and tests:
no AWS account, same provisioning code. It is its own Django app (label `local_msk`, installed only when
MSK_PROVIDER=local) so its tables never reach a production schema.
"""
