"""Search: GET /api/v1/search?q=&type=posts|users|tags (server/search.py)."""

from __future__ import annotations

from aiohttp import web
from marshmallow import EXCLUDE, Schema, fields, validate

from server import search
from server.http.identity import client_of, viewer_id
from server.http.openapi import docs
from server.http.responses import load_query, raw_page
from server.http.schemas import UserSchema

routes = web.RouteTableDef()
TAGS = ["search"]


class SearchQuery(Schema):
    q = fields.String(required=True, validate=validate.Length(min=1, max=search.MAX_QUERY), metadata={
        "description": "posts: words (all required), \"exact phrases\", -exclusions (a word or a phrase) "
                       "and prefix* words; users and tags: a prefix of the username, full name or tag name"})
    type = fields.String(load_default="posts", validate=validate.OneOf(search.TYPES),
                         metadata={"description": "what to search (default posts)"})
    limit = fields.Integer(load_default=search.DEFAULT_LIMIT, validate=validate.Range(min=1),
                           metadata={"description": f"page size (default {search.DEFAULT_LIMIT}; above "
                                                    f"{search.MAX_LIMIT} is clamped to {search.MAX_LIMIT})"})
    offset = fields.Integer(load_default=0, validate=validate.Range(
        min=0, max=search.MAX_RESULTS,
        error=f"a search answers its first {search.MAX_RESULTS:,} results at most: offset must be from 0 to "
              f"{search.MAX_RESULTS:,}"),
        metadata={"description": "results to skip: the previous page's next_cursor"})

    class Meta:
        unknown = EXCLUDE


class TagSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


# Post is handlers/posts.py's component (a handler never imports another handler).
_PAGE = {"type": "object", "required": ["items", "next_cursor"], "properties": {
    "items": {"type": "array", "items": {"anyOf": [{"$ref": "#/components/schemas/Post"}, UserSchema, TagSchema]},
              "description": "Post (type=posts), User (type=users) or Tag (type=tags) objects, best first"},
    "next_cursor": {"type": ["string", "null"], "pattern": r"^[0-9]+$",
                    "description": "the offset of the next page, null after the last one"}}}


@routes.get("/api/v1/search")
@docs("Search posts (full text), users or tags (prefix), best match first, newest first on ties",
      tags=TAGS, auth="optional", query=SearchQuery, responses={200: _PAGE, 400: None, 429: None},
      description="Posts: every word and phrase is required; words shorter than 3 characters and "
                  "InnoDB's stopwords are ignored; a text with nothing left to look for answers an "
                  "empty page. Relevance is ranked among the newest 300 matches in the newest 20,000 "
                  "posts (every match when a text is rare lately and has at most 200, found within "
                  "0.1 s); candidates are "
                  "cached for search.cache_ttl seconds. Blocked users (either way), muted users' posts, "
                  "suspended (except for moderators) and deleted accounts are left out. At most 1,000 "
                  "results: an offset above 1,000 is a 400. Rate-limited per account, or per client "
                  "address when anonymous (ratelimit.search_client): 429 with Retry-After.")
async def search_route(request: web.Request) -> web.Response:
    args = load_query(request, SearchQuery())
    page = await search.search(request.app, args["q"], args["type"], args["offset"],
                               min(args["limit"], search.MAX_LIMIT), viewer_id(request), client_of(request))
    return raw_page(page["items"], page["next_cursor"])
