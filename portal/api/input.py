"""The base of every API input serializer: fields it does not know are refused, messages are plain.

DRF drops fields it does not know without a word (a topic request with `"configs": {...}` got a 201 and
the settings were ignored) and answers in its own jargon (`Invalid pk "-1" - object does not exist.`,
`Expected a dictionary, but got list.`). Inputs derive from `InputSerializer` instead:

- a body field the serializer does not declare is a 400 naming it; `fixed_fields` names fields that
  exist on the object but may not be changed by this request, with the reason;
- DRF's default messages are replaced here, in one table, by messages that say the rule in plain words
  (the field's name is the key they are reported under);
- the OpenAPI schema of such a body says `additionalProperties: false` (portal.api.schema).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core import validators
from rest_framework import relations, serializers
from rest_framework.settings import api_settings

from portal.numbers import NumberRule

# By field class (most specific first) and DRF error code. {placeholders} are DRF's own arguments.
PLAIN_MESSAGES: list[tuple[type, dict[str, str]]] = [
    (
        relations.PrimaryKeyRelatedField,
        {
            "does_not_exist": "No {thing} with id {pk_value} that you can use.",
            "incorrect_type": "Give the id of a {thing} (a whole number).",
        },
    ),
    (
        relations.SlugRelatedField,
        {
            "does_not_exist": "No {thing} “{value}” that you can use.",
            "invalid": "Give the {thing}'s short name (its slug).",
        },
    ),
    (
        serializers.ListSerializer,
        {
            "not_a_list": "Must be a list of objects ([{{…}}, …]).",
            "empty": "Must not be empty.",
            "max_length": "At most {max_length} entries.",
            "min_length": "At least {min_length} entries.",
        },
    ),
    (
        serializers.Serializer,
        {
            "invalid": "Must be an object with fields ({{…}}).",
        },
    ),
    (serializers.BooleanField, {"invalid": "Must be true or false."}),
    (
        serializers.IntegerField,
        {
            "invalid": "Must be a whole number.",
            "max_value": "Must be at most {max_value}.",
            "min_value": "Must be at least {min_value}.",
            "max_string_length": "Too long for a whole number.",
        },
    ),
    (
        serializers.DecimalField,
        {
            "invalid": "Must be a number, such as 12.5.",
            "max_value": "Must be at most {max_value}.",
            "min_value": "Must be at least {min_value}.",
            "max_digits": "Use at most {max_digits} digits in all.",
            "max_decimal_places": "Use at most {max_decimal_places} digits after the decimal point.",
            "max_whole_digits": "Use at most {max_whole_digits} digits before the decimal point.",
            "max_string_length": "Too long for a number.",
        },
    ),
    (serializers.SlugField, {"invalid": "Use only letters, digits, hyphens and underscores."}),
    (serializers.ChoiceField, {"invalid_choice": "Choose one of: {choices}."}),
    (
        serializers.CharField,
        {
            "invalid": "Must be text.",
            "blank": "Must not be empty.",
            "max_length": "At most {max_length} characters.",
            "min_length": "At least {min_length} characters.",
        },
    ),
    (
        serializers.ListField,
        {
            "not_a_list": "Must be a list ([…]).",
            "empty": "Must not be empty.",
            "max_length": "At most {max_length} entries.",
            "min_length": "At least {min_length} entries.",
        },
    ),
    (
        serializers.Field,
        {
            "required": "This field is required.",
            "null": "Give a value: it may not be empty or null.",
        },
    ),
]


LIMIT_VALIDATORS = {
    validators.MaxValueValidator: "max_value",
    validators.MinValueValidator: "min_value",
    validators.MaxLengthValidator: "max_length",
    validators.MinLengthValidator: "min_length",
}


def _braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def use_plain_messages(field: serializers.Field) -> None:
    """Replace DRF's default messages of `field` (and of a list's child) by the plain ones above."""
    queryset = getattr(field, "queryset", None)
    thing = str(queryset.model._meta.verbose_name) if queryset is not None else "object"
    # Only a ChoiceField's choices: a related field's would run its query.
    choices = ", ".join(map(str, field.choices)) if isinstance(field, serializers.ChoiceField) else ""
    for field_class, messages in reversed(PLAIN_MESSAGES):  # general first, so specific ones win
        if isinstance(field, field_class):
            for code, message in messages.items():
                message = message.replace("{thing}", _braces(thing)).replace("{choices}", _braces(choices))
                field.error_messages[code] = message
    # Range and length checks are validators that copied their message when the field was made.
    for validator in field.validators:
        code = LIMIT_VALIDATORS.get(type(validator))
        if code in field.error_messages:
            validator.message = field.error_messages[code].format(**{code: validator.limit_value})
    child = getattr(field, "child", None)
    if isinstance(field, serializers.ListField) and child is not None:
        use_plain_messages(child)


class _RuleField:
    """A DRF number field read by the NumberRule of its own bounds: the HTML form's one message per
    mistake (portal.numbers), and the bounds still documented in the OpenAPI schema."""

    def __init__(self, *, unit: str = "", hint: str = "", **kwargs):
        super().__init__(**kwargs)
        self.rule = NumberRule(
            min_value=self.min_value,
            max_value=self.max_value,
            decimal_places=getattr(self, "decimal_places", 0),
            unit=unit,
            hint=hint,
        )

    def to_internal_value(self, data):
        try:
            value = self.rule.parse(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from exc
        return self.quantize(value) if isinstance(self, serializers.DecimalField) else value


class DecimalInput(_RuleField, serializers.DecimalField):
    """serializers.DecimalField read by portal.numbers.NumberRule."""


class IntegerInput(_RuleField, serializers.IntegerField):
    """serializers.IntegerField read by portal.numbers.NumberRule."""


class InputSerializer(serializers.Serializer):
    """Parses one API input. Subclasses declare fields; see the module docstring for what this adds."""

    # Field name -> why this request may not set it (e.g. set once at creation).
    fixed_fields: Mapping[str, str] = {}
    refuse_unknown_fields = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        use_plain_messages(self)

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            use_plain_messages(field)
        return fields

    def to_internal_value(self, data):
        if self.parent is None and not isinstance(data, Mapping):
            message = "The request body must be a JSON object ({…}) of fields."
            raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [message]})
        refused = self._refused_fields(data) if isinstance(data, Mapping) else {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if refused and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**refused, **exc.detail}) from exc
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return value

    def _refused_fields(self, data: Mapping) -> dict[str, list[str]]:
        if not self.refuse_unknown_fields:
            return {}
        accepted = sorted(name for name, field in self.fields.items() if not field.read_only)
        refused = {}
        for name in data:
            if name in self.fixed_fields:
                refused[name] = [self.fixed_fields[name]]
            elif name not in accepted or name == api_settings.NON_FIELD_ERRORS_KEY:
                shown = str(name)[:100]
                refused[shown] = [
                    f"“{shown}” is not a field of this request, so it is refused rather than ignored. "
                    f"The fields are: {', '.join(accepted)}."
                ]
        return refused
