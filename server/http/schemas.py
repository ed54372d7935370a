"""Marshmallow schemas shared by several areas: field rules and the documented output objects.

Every rule here is also stated in the OpenAPI document (server/http/openapi.py turns the
validator classes below into JSON Schema keywords), so what the document allows is what the
server accepts.
"""

from __future__ import annotations

import re
from typing import Any

from email_validator import EmailNotValidError, validate_email
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates
from marshmallow.schema import SchemaMeta

from server.db import ID_MAX, ID_MIN
from server.posts import MAX_MEDIA


class JsonInteger(fields.Integer):
    """An integer as JSON (and JSON Schema) means it: 3 and 3.0; never "3", true or 3.5."""

    def __init__(self, **kw: Any):
        kw.setdefault("strict", True)
        super().__init__(**kw)

    def _validated(self, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._validated(value)


def id_range() -> validate.Range:
    """A row id: an integer in ID_MIN..ID_MAX (else a 422 that names the field)."""
    return validate.Range(ID_MIN, ID_MAX, error=f"Must be an id: an integer from {ID_MIN} to {ID_MAX}.")


class _BoundedIntegers(SchemaMeta):
    """Integers in request bodies never reach MariaDB unbounded or in a float's clothes.

    Each Integer field of a Strict schema (also inside a List) becomes a JsonInteger, and one
    without a Range of its own is an id (ID_MIN..ID_MAX); a Range with no maximum is capped
    at ID_MAX. So `{"recipient_id": -5}` is a 422, never an out-of-range error from SQL.
    """

    @classmethod
    def get_declared_fields(mcs, klass, cls_fields, inherited_fields, dict_cls=dict):  # noqa: N804
        declared = super().get_declared_fields(klass, cls_fields, inherited_fields, dict_cls)
        for field in declared.values():
            _bound(field.inner if isinstance(field, fields.List) else field)
        return declared


def _bound(field: fields.Field) -> None:
    if not isinstance(field, fields.Integer) or getattr(field, "_bounded", False):
        return
    if type(field) is fields.Integer:
        field.__class__ = JsonInteger
        field.strict = True
    ranges = [v for v in field.validators if isinstance(v, validate.Range)]
    if not ranges:
        field.validators.append(id_range())
    elif all(r.max is None for r in ranges):
        field.validators.append(validate.Range(max=ID_MAX, error=f"Must be at most {ID_MAX}."))
    field._bounded = True


class Strict(Schema, metaclass=_BoundedIntegers):
    """Input schemas: unknown fields are a 422, never silently saved; integers are bounded.

    `json_schema`: extra JSON Schema keywords for the document (e.g. a cross-field rule the
    handler checks itself, {"minProperties": 1}); openapi.py merges them into the component.
    """

    json_schema: dict[str, Any] = {}

    class Meta:
        unknown = RAISE


class NotBlank(validate.Validator):
    """At least one non-whitespace character (JSON Schema: pattern "\\S")."""

    PATTERN = re.compile(r"\S")

    def __init__(self, error: str = "Must not be blank."):
        self.error = error

    def __call__(self, value: str) -> str:
        if not self.PATTERN.search(value):
            raise ValidationError(self.error)
        return value


class PasswordRule(validate.Validator):
    """8–72 bytes of UTF-8 (bcrypt reads 72 bytes). JSON Schema counts characters (1–4 bytes
    each), so the document can only say 2–72 characters and the byte count in words."""

    MIN_BYTES, MAX_BYTES = 8, 72

    def __call__(self, value: str) -> str:
        size = len(value.encode("utf-8", "surrogatepass"))
        if size < self.MIN_BYTES or size > self.MAX_BYTES:
            raise ValidationError(f"Must be {self.MIN_BYTES}–{self.MAX_BYTES} bytes of UTF-8.")
        return value


class EmailRule(validate.Validator):
    """An RFC-correct address (email-validator, no DNS): JSON Schema format "email"."""

    MAX_LENGTH = 254

    def __call__(self, value: str) -> str:
        if len(value) > self.MAX_LENGTH:
            raise ValidationError(f"At most {self.MAX_LENGTH} characters.")
        try:
            validate_email(value, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValidationError(str(exc)) from None
        return value


def media_or_text(type_field: str) -> dict[str, Any]:
    """JSON Schema of server/chat.py's rule for a message or response body: a text one (the
    default) has no media_id and content that is not blank; an image or video one has media_id."""
    return {"anyOf": [
        {"properties": {type_field: {"const": "text"}, "media_id": {"type": "null"},
                        "content": {"pattern": NotBlank.PATTERN.pattern}}},
        {"properties": {type_field: {"enum": ["image", "video"]}, "media_id": {"type": "integer"}},
         "required": [type_field, "media_id"]},
    ]}


USERNAME = validate.Regexp(r"^[A-Za-z0-9_]{3,30}$",
                           error="3–30 characters: letters, digits and underscore.")
password_rule = PasswordRule()
email_rule = EmailRule()


class Username(fields.String):
    def __init__(self, **kw):
        super().__init__(validate=USERNAME, **kw)


class Password(fields.String):
    def __init__(self, **kw):
        super().__init__(validate=password_rule, **kw)


class Email(fields.String):
    def __init__(self, **kw):
        super().__init__(validate=email_rule, **kw)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        return value.strip()


not_blank = NotBlank("Must not be blank.")


def media_ids_field() -> fields.List:
    return fields.List(fields.Integer(strict=True, validate=validate.Range(min=1)),
                       validate=validate.Length(max=MAX_MEDIA), metadata={"uniqueItems": True})


class MediaIdsMixin:
    @validates("media_ids")
    def _distinct(self, value: list[int], **_: Any) -> None:
        if len(set(value)) != len(value):
            raise ValidationError("Media ids must be distinct.")


# Output objects, for the OpenAPI document (responses are built in server/present.py).
class UserSummarySchema(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    full_name = fields.String(allow_none=True)
    profile_pic = fields.String(allow_none=True)


class MentionSchema(Schema):
    """A user a post or comment mentions (@username)."""
    id = fields.Integer(required=True)
    username = fields.String(required=True)


def tags_field() -> fields.List:
    return fields.List(fields.String(), metadata={
        "description": "its hashtags, normalized (case-folded, without '#'), in order of appearance"})


def mentions_field() -> fields.List:
    return fields.List(fields.Nested(MentionSchema), metadata={
        "description": "the active users it mentions, in order of appearance"})


class UserSchema(UserSummarySchema):
    bio = fields.String(allow_none=True)
    location = fields.String(allow_none=True)
    join_date = fields.Date()
    followers_count = fields.Integer()
    following_count = fields.Integer()
    posts_count = fields.Integer()
    created_at = fields.String()
    updated_at = fields.String()
    following = fields.Boolean(metadata={"description": "with a token: the viewer follows this user"})
    followed_by = fields.Boolean(metadata={"description": "with a token: this user follows the viewer"})
    blocking = fields.Boolean(metadata={"description": "with a token: the viewer blocks this user"})
    muting = fields.Boolean(metadata={"description": "with a token: the viewer mutes this user"})
    email = fields.String(metadata={"description": "only on /users/me"})
    dm_policy = fields.String(validate=validate.OneOf(["everyone", "following", "nobody"]),
                              metadata={"description": "only on /users/me: who may message this user"})
    role = fields.String(validate=validate.OneOf(["user", "moderator", "admin"]),
                         metadata={"description": "only on /users/me"})


class MediaSchema(Schema):
    id = fields.Integer(required=True)
    type = fields.String(validate=validate.OneOf(["image", "video", "gif"]))
    url = fields.String()
    thumbnail_url = fields.String(allow_none=True)
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    duration = fields.Float(allow_none=True)
    size = fields.Integer()
    content_type = fields.String()
    created_at = fields.String()


class TokenPairSchema(Schema):
    user = fields.Nested(UserSchema)
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()


class LikeStateSchema(Schema):
    liked = fields.Boolean(required=True)
    likes_count = fields.Integer(required=True)


class ReactionSummarySchema(Schema):
    emoji = fields.String(required=True, metadata={"description": "one emoji (one grapheme cluster)"})
    count = fields.Integer(required=True, metadata={"description": "how many of the two participants reacted with it"})
    me = fields.Boolean(required=True, metadata={"description": "the viewer reacted with it"})
