"""OpenAPI generation: request bodies of `InputSerializer`s refuse unknown properties, as the API does."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance

from portal.api.input import InputSerializer


class PortalAutoSchema(AutoSchema):
    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        instance = force_instance(serializer)
        if (
            direction == "request"
            and isinstance(instance, InputSerializer)
            and instance.refuse_unknown_fields
        ):
            schema["additionalProperties"] = False
        return schema
