"""Schemathesis hooks for tools/fuzz.sh (loaded through `hooks` in schemathesis.toml).

Four things, each as narrow as it can be:

1. Logout ends the session of the token it is sent with (and DELETE /api/v1/auth/sessions/{id}
   the session it names, the run's own among the small ids it tries). Fuzzed with the run's own token it would
   log the fuzzer out for the rest of the run, so a logout carrying that token is sent with a
   fresh token of a second account instead. Requests without a token, or with a broken one (the
   auth checks), go out unchanged.

2. A "positive" case whose body does not validate against the document is dropped. Schemathesis'
   coverage phase has produced such bodies (properties of a nested object copied to the top
   level of a body that forbids them); refusing them is right, so they prove nothing.

3. ACCEPTED below: the refusals of schema-valid requests ("Schema-valid request rejected",
   positive_data_acceptance) that no schema can prevent, because they depend on stored data or
   on rules JSON Schema cannot state. A failure is dropped only when every error the server gave
   is on this list for that operation; anything else still fails the run.

4. Two stateful checks whose premise does not hold for a few cases, described where they are
   dropped: an article's slug changes with its title; an idempotent replay repeats an answer
   about a resource since deleted; "like" (a toggle) is not "likes" (a list).
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import re
import threading
import urllib.request

import jsonschema
import schemathesis

BASE_URL = os.environ["CHATTER_FUZZ_URL"].rstrip("/")
TOKENS = {os.environ["CHATTER_FUZZ_TOKEN"], os.environ["CHATTER_FUZZ_CONDUIT_TOKEN"]}
LOGOUT = ("POST", "/api/v1/auth/logout")
# Ending a session by id: the run's own session would end too (ids are small and guessable).
END_SESSION = ("DELETE", "/api/v1/auth/sessions/{id}")

# --- 1. logout with a token of its own --------------------------------------------------------


def _spare_token() -> str:
    body = json.dumps({"login": os.environ["CHATTER_FUZZ_SPARE_LOGIN"],
                       "password": os.environ["CHATTER_FUZZ_SPARE_PASSWORD"]}).encode()
    request = urllib.request.Request(f"{BASE_URL}/api/v1/auth/login", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


@schemathesis.hook
def before_call(context, case, kwargs):
    if (case.method.upper(), case.path) not in (LOGOUT, END_SESSION):
        return
    for headers in (kwargs.get("headers"), case.headers):
        if not headers:
            continue
        for name, value in list(headers.items()):
            if name.lower() == "authorization" and value.partition(" ")[2] in TOKENS:
                headers[name] = f"Bearer {_spare_token()}"


# --- 2. positive cases must be valid ------------------------------------------------------------


@schemathesis.hook
def filter_case(context, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or case.media_type != "application/json":
        return True
    for body in case.operation.body:
        if body.media_type == case.media_type:
            schema = body.definition.get("schema")
            if schema is not None and not jsonschema.Draft202012Validator(schema).is_valid(case.body):
                return False
    return True


# --- 3. refusals no schema can prevent -------------------------------------------------------------

ANY = ".*"
# (operations, status, error field ("" for a problem's detail), message regex, why)
ACCEPTED: list[tuple[tuple[str, ...], int, str, str, str]] = [
    # Stored data: whether an id names a row of the right owner or state, who the viewer is.
    (("POST /api/v1/messages",), 422, "recipient_id", r"No such user\.|You cannot message yourself\.",
     "the recipient must be another existing user (API.md: a 422)"),
    (("POST /api/v1/messages", "POST /api/v1/messages/{id}/responses"), 422, "media_id",
     r"Must be one of your own unattached \w+ uploads\.", "media_id must name one's own unattached upload"),
    (("POST /api/v1/messages",), 422, "client_id", r"Already used for a message to another user\.",
     "a client_id is unique per sender"),
    (("PATCH /api/v1/messages/{id}",), 422, "content", ANY,
     "a text message may not become blank; a media message may: it depends on the stored message"),
    (("POST /api/v1/posts", "PATCH /api/v1/posts/{id}", "POST /api/v1/posts/{id}/comments",
      "PATCH /api/v1/comments/{id}"), 422, "media_ids", r"Each media id must be one of your own uploads",
     "media_ids must name one's own unattached uploads"),
    (("PUT /api/v1/users/{id}/follow", "DELETE /api/v1/users/{id}/follow"), 422, "id",
     r"You cannot follow yourself\.", "the id may be the fuzzer's own"),
    (("PUT /api/v1/users/{id}/block", "DELETE /api/v1/users/{id}/block"), 422, "id",
     r"You cannot block yourself\.", "the id may be the fuzzer's own"),
    (("PUT /api/v1/users/{id}/mute", "DELETE /api/v1/users/{id}/mute"), 422, "id",
     r"You cannot mute yourself\.", "the id may be the fuzzer's own"),
    (("POST /api/v1/reports",), 422, "id", r"You cannot report your own \w+\.",
     "the reported id may name the fuzzer's own post, comment or account"),
    (("POST /api/profiles/{username}/follow", "DELETE /api/profiles/{username}/follow"), 422, "username",
     r"can't be yourself", "the username may be the fuzzer's own"),
    (("PUT /api/user",), 422, "username|email", r"has already been taken", "usernames and emails are unique"),
    (("PUT /api/user",), 422, "image", r"can't be set to a URL",
     "image may only repeat the current avatar URL or clear it"),
    (("POST /api/v1/auth/password/reset",), 400, "", r"The reset token is used, expired or unknown\.",
     "a reset token only comes by mail"),
    (("POST /api/v1/posts", "POST /api/v1/posts/{id}/comments", "POST /api/v1/messages",
      "POST /api/v1/messages/{id}/responses", "POST /api/v1/media"), 422, "Idempotency-Key", ANY,
     "a key already used (within 24 h) with another body: the fuzzer repeats keys"),
    # Uploads: the file's type and soundness are judged from its bytes.
    (("POST /api/v1/media", "PUT /api/v1/users/me/avatar"), 415, "", ANY,
     "the type is judged from the bytes (JPEG, PNG, WebP, GIF, MP4, WebM), which no schema states"),
    (("POST /api/v1/media", "PUT /api/v1/users/me/avatar"), 422, "file",
     r"The image could not be decoded\.|The video could not be read\.|The file has no video track\.",
     "bytes that look like an image or video but do not decode"),
    # Rules JSON Schema cannot state.
    (("*",), 422, "password|new_password", r"Must be 8–72 bytes of UTF-8\.",
     "the limit is in UTF-8 bytes (bcrypt reads 72); JSON Schema's maxLength counts characters"),
    (("*",), 422, "email", r"(?!Unknown field|Not a valid|Missing data|Field may not be null|has already)",
     "addresses are checked by email-validator, stricter than JSON Schema's 'email' format "
     "(e.g. no reserved domains such as .test, a dot in the domain)"),
    (("*",), 400, "", r"Pass either 'before' or 'after', not both\.",
     "OpenAPI cannot say that two query parameters exclude each other"),
    (("PUT /api/v1/messages/{id}/reactions/{emoji}", "DELETE /api/v1/messages/{id}/reactions/{emoji}"), 400, "",
     r"The reaction must be exactly one emoji", "one emoji grapheme cluster (UTS #51), which no JSON Schema "
     "pattern states"),
    (("PUT /api/v1/messages/{id}/reactions/{emoji}",), 409, "", r"A message carries at most 20 different emoji\.",
     "the 20-emoji limit depends on the reactions stored"),
    (("GET /api/v1/notifications",), 400, "", r"Pass either 'grouped' or 'unread', not both\.",
     "OpenAPI cannot say that two query parameters exclude each other"),
    (("POST /api/v1/notifications/read",), 400, "", r"Not a group key",
     "a group_key's day must be a date and its id in range, which its pattern cannot state"),
    (("GET /api/v1/ws",), 400, "", r"Expected a WebSocket upgrade\.",
     "the WebSocket handshake: an HTTP client cannot complete it, so every valid request gets 400"),
]


def _errors(response) -> list[tuple[str, str]]:
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    errors = body.get("errors")
    if isinstance(errors, dict) and errors:
        return [(field, str(message)) for field, messages in errors.items()
                for message in (messages if isinstance(messages, list) else [messages])]
    return [("", str(body.get("detail", "")))]


def _accepted(label: str, status: int, field: str, message: str) -> str | None:
    """The reason a refusal is accepted, or None."""
    for operations, rule_status, fields, pattern, why in ACCEPTED:
        if status == rule_status and ("*" in operations or label in operations) \
                and re.fullmatch(fields, field) and re.match(pattern, message):
            return why
    return None


# What was dropped, by reason: written to $CHATTER_FUZZ_DROPPED at exit (tools/fuzz.sh prints it).
DROPPED: collections.Counter[str] = collections.Counter()


@atexit.register
def _write_dropped() -> None:
    path = os.environ.get("CHATTER_FUZZ_DROPPED")
    if path:
        with open(path, "w") as out:
            json.dump(dict(DROPPED.most_common()), out, indent=1, ensure_ascii=False)


# --- 4. stateful checks whose premise does not hold here ----------------------------------------

# "Created resource not found" (ensure_resource_availability):
# - an article by its slug: a new title gives a new slug (PUT /api/articles/{slug}), and an
#   article is a post, which DELETE /api/v1/posts/{id} removes; the stateful phase does both, then
#   asks for the old slug;
# - a create answered from the Idempotency-Key record (Idempotent-Replayed: true): the replay
#   repeats the first answer for 24 h, also when that resource was deleted since (REPLAYED).
SLUG_CHANGES = "/api/articles/{slug}"
REPLAYED: set[tuple[str, str]] = set()  # (create operation, id it answered with)
_REPLAYED_LOCK = threading.Lock()


@schemathesis.hook
def after_call(context, case, response):
    if response.status_code == 201 and response.headers.get("idempotent-replayed"):
        try:
            created = json.loads(response.content)["id"]
        except (ValueError, KeyError, TypeError):
            return
        with _REPLAYED_LOCK:
            REPLAYED.add((f"{case.method.upper()} {case.operation.path}", str(created)))


def _stateful_premise_fails(failure, case) -> str | None:
    """Why a stateful check's premise fails for this failure, or None."""
    if failure.code == "ST302":
        if case.operation.path.startswith(SLUG_CHANGES):
            return "an article's slug changes with its title; its post can be deleted by id"
        ids = {str(v) for v in (case.path_parameters or {}).values()}
        with _REPLAYED_LOCK:
            if any((failure.created_with, i) in REPLAYED for i in ids):
                return "an idempotent replay names a resource deleted since"
    if failure.code == "ST301":
        # "Deleted resource still available" (use_after_free) takes a path segment and its plural
        # for one resource: DELETE .../posts/7/like (the viewer's like) then GET .../posts/7/likes
        # (who liked it: still there, without that like). Only such a pair is dropped.
        freed = failure.free.partition(" ")[2].split("/")
        used = failure.usage.partition(" ")[2].split("/")
        if any(f != u and (u == f + "s" or f == u + "s") for f, u in zip(freed, used, strict=False)):
            return "a toggle (like) is not the list (likes)"
    return None


@schemathesis.hook
def filter_failure(context, failure, case, response):
    label = f"{case.method.upper()} {case.operation.path}"
    premise = _stateful_premise_fails(failure, case)
    if premise:
        DROPPED[f"{failure.code} {label}: {premise}"] += 1
        return False
    if failure.code != "ST202" or response is None:
        return True
    reasons = [_accepted(label, response.status_code, f, m) for f, m in _errors(response)]
    if not reasons or None in reasons:
        return True
    for why in set(reasons):
        DROPPED[f"ST202 {label} {response.status_code}: {why}"] += 1
    return False

