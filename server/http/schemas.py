"""Marshmallow schemas shared by several areas: field rules and the documented output objects."""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from server.posts import MAX_MEDIA


class Strict(Schema):
    """Input schemas: unknown fields are a 422, never silently saved."""

    class Meta:
        unknown = RAISE


USERNAME = validate.Regexp(r"^[A-Za-z0-9_]{3,30}$",
                           error="3–30 characters: letters, digits and underscore.")


def password_rule(value: str) -> None:
    size = len(value.encode("utf-8"))
    if size < 8 or size > 72:
        raise ValidationError("Must be 8–72 bytes of UTF-8.")


def email_rule(value: str) -> None:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(str(exc)) from None


class Username(fields.String):
    def __init__(self, **kw):
        super().__init__(validate=USERNAME, **kw)


class Password(fields.String):
    def __init__(self, **kw):
        super().__init__(validate=password_rule, **kw)


class Email(fields.String):
    def __init__(self, **kw):
        super().__init__(validate=[validate.Length(max=254), email_rule], **kw)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        return value.strip()


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


def media_ids_field() -> fields.List:
    return fields.List(fields.Integer(strict=True, validate=validate.Range(min=1)),
                       validate=validate.Length(max=MAX_MEDIA))


class MediaIdsMixin:
    @validates("media_ids")
    def _distinct(self, value: list[int], **_: Any) -> None:
        if len(set(value)) != len(value):
            raise ValidationError("Media ids must be distinct.")


class UploadSchema(Schema):
    file = fields.Raw(required=True, metadata={
        "type": "string", "format": "binary",
        "description": "JPEG, PNG, WebP or GIF image, or MP4 or WebM video; the type is judged from the bytes",
    })


# Output objects, for the OpenAPI document (responses are built in server/present.py).
class UserSummarySchema(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    full_name = fields.String(allow_none=True)
    profile_pic = fields.String(allow_none=True)


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
