"""The web client and the API docs in a real browser: Playwright driving Debian's chromium.

The real server runs as a process on a loopback port (the per-run test database and Redis prefix);
two browser contexts are two people. A missing browser fails these tests: it never skips them.
Screenshots of the main screens go to a temporary directory, or to docs/screenshots/ when
UPDATE_SCREENSHOTS=1 (that is how the README's pictures are made).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from server.localsvc import free_port
from tests.conftest import TEST_SECRET, _db_url_with

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"
CHROMIUM = os.environ.get("CHATTER_TEST_CHROMIUM", "/usr/bin/chromium")
DESKTOP = {"width": 1100, "height": 760}
PHONE = {"width": 360, "height": 740}


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chromium() -> str:
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        pytest.fail(f"No chromium at {CHROMIUM}: run `make test` (tools/system-deps.sh installs it) or "
                    "`apt-get install chromium`, or point CHATTER_TEST_CHROMIUM at a Chromium binary.")
    return path


@pytest.fixture(scope="module")
def server(services, tmp_path_factory):
    """`python -m server run` on a free loopback port, as `make run` serves it."""
    tmp = tmp_path_factory.mktemp("browser-server")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATTER_")}
    env.update({
        "CHATTER_DATABASE__URL": _db_url_with(services.db_url, services.database),
        "CHATTER_REDIS__URL": services.redis_url,
        "CHATTER_REDIS__PREFIX": f"test:{uuid.uuid4().hex[:12]}:",
        "CHATTER_AUTH__SECRET": TEST_SECRET,
        "CHATTER_AUTH__BCRYPT_ROUNDS": "4",
        "CHATTER_RATELIMIT__ENABLED": "false",
        "CHATTER_MEDIA__DIR": str(tmp / "media"),
        "CHATTER_MAIL__OUTBOX_DIR": str(tmp / "outbox"),
        "CHATTER_LOG__LEVEL": "WARNING",
    })
    log = open(tmp / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "server", "--no-local-services", "run", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"server exited: {(tmp / 'server.log').read_text()[-2000:]}"
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1):  # noqa: S310 - loopback
                    break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        path = ROOT / "docs" / "screenshots"
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


class Person:
    """One browser context (a person), with the page errors it saw and the hosts it asked."""

    def __init__(self, browser, base: str, viewport: dict, name: str):
        self.base = base
        self.context = browser.new_context(viewport=viewport, device_scale_factor=1)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.username = f"{name}{uuid.uuid4().hex[:5]}"
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        # Content-Security-Policy violations would mean a blocked script, style or image.
        self.context.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => console.error("
            "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))")
        self.page.on("console", self._console)
        self.page.on("request", self._request)

    def _console(self, msg) -> None:
        # A 4xx the client expects (a validation answer) is logged by chromium as a failed load.
        if msg.type == "error" and "Failed to load resource" not in msg.text:
            self.errors.append(msg.text)

    def _request(self, request) -> None:
        url = request.url
        if not (url.startswith(self.base) or url.startswith(self.base.replace("http", "ws"))
                or url.startswith(("data:", "blob:"))):
            self.foreign.append(url)

    def go(self, route: str) -> None:
        self.page.goto(f"{self.base}/#{route}")

    def register(self, full_name: str) -> None:
        from playwright.sync_api import expect

        self.go("/register")
        page = self.page
        page.get_by_label("Username").fill(self.username)
        page.get_by_label("Email").fill(f"{self.username}@example.com")
        page.get_by_label("Full name").fill(full_name)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("heading", name="Home")).to_be_visible()
        expect(self.conn).to_have_text("Live")
        self.full_name = full_name

    @property
    def nav(self):
        return self.page.get_by_role("navigation", name="Main")

    @property
    def conn(self):
        return self.page.locator("#conn")

    def token(self) -> str:
        return json.loads(self.page.evaluate("localStorage.getItem('chatter.session')"))["access_token"]

    def follow(self, other: Person) -> None:
        from playwright.sync_api import expect

        self.go(f"/@{other.username}")
        button = self.page.get_by_role("button", name=f"Follow {other.username}")
        button.click()
        expect(self.page.get_by_role("button", name=f"Unfollow {other.username}")).to_have_attribute("aria-pressed", "true")

    def shot(self, shots: Path, name: str) -> None:
        self.page.evaluate("window.scrollTo(0, 0); document.getElementById('toasts')?.replaceChildren()")
        self.page.wait_for_timeout(150)  # let images decode
        self.page.screenshot(path=str(shots / f"{name}.png"))

    def close(self) -> None:
        assert not self.errors, self.errors
        assert not self.foreign, f"requests outside the server: {self.foreign}"
        self.context.close()


@pytest.fixture
def people(browser, server):
    made: list[Person] = []

    def make(name: str, viewport: dict = DESKTOP) -> Person:
        person = Person(browser, server, viewport, name)
        made.append(person)
        return person

    yield make
    for person in made:
        person.close()


def _picture(path: Path) -> Path:
    """A small landscape picture (sky, sun, hills) to upload."""
    img = Image.new("RGB", (960, 540), (125, 180, 235))
    draw = ImageDraw.Draw(img)
    for y in range(300):
        draw.line([(0, y), (960, y)], fill=(110 + y // 6, 170 + y // 10, 235))
    draw.ellipse([700, 70, 820, 190], fill=(255, 214, 90))
    draw.polygon([(0, 540), (0, 330), (260, 230), (520, 360), (760, 250), (960, 340), (960, 540)], fill=(70, 140, 85))
    draw.polygon([(0, 540), (0, 430), (380, 350), (700, 450), (960, 400), (960, 540)], fill=(45, 110, 70))
    img.save(path, "JPEG", quality=85)
    return path


def _register(base: str, username: str) -> dict:
    """A user made through the API (no browser): {access_token, user, ...}."""
    body = json.dumps({"username": username, "email": f"{username}@example.com", "password": PASSWORD}).encode()
    req = urllib.request.Request(base + "/api/v1/auth/register", method="POST", data=body,  # noqa: S310
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


def _api(base: str, method: str, path: str, token: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,  # noqa: S310
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read() or b"null")


# --- the API docs --------------------------------------------------------------------------------

def test_docs_page_lists_every_operation(people, server, shots):
    from playwright.sync_api import expect

    reader = people("docs")
    spec = json.loads(urllib.request.urlopen(server + "/api/openapi.json", timeout=5).read())  # noqa: S310
    operations = sum(len(ops) for ops in spec["paths"].values())
    assert operations > 50
    for path in ("/api/docs", "/api/docs/"):
        reader.page.goto(server + path)
        expect(reader.page.locator(".opblock").first).to_be_visible()
        assert reader.page.locator(".opblock").count() == operations
        expect(reader.page.get_by_text("Failed to load")).to_have_count(0)
    expect(reader.page.locator(".opblock-tag").first).to_have_text("auth")
    reader.shot(shots, "docs")


# --- the web client ------------------------------------------------------------------------------

def test_two_people_chat_live_with_typing_receipts_replies_and_resume(people, shots, tmp_path):
    from playwright.sync_api import expect

    ann = people("ann")
    bob = people("bob", PHONE)  # a 360 px phone
    ann.register("Ann Archer")
    bob.register("Bob Baker")
    ann.follow(bob)
    bob.follow(ann)
    expect(bob.page.get_by_text("Follows you")).to_be_visible()

    # Ann writes first; Bob, elsewhere in the app, sees the unread badge arrive live.
    bob.go("/")
    ann.go(f"/@{bob.username}")
    ann.page.get_by_role("link", name=f"Message {bob.full_name}").click()
    composer_a = ann.page.get_by_label(f"Message {bob.full_name}")
    composer_a.fill("Hi Bob! Lunch at noon?")
    composer_a.press("Enter")
    mine = ann.page.locator(".msg.mine").filter(has_text="Lunch at noon")
    expect(mine.locator(".status")).to_have_text("Sent")
    expect(bob.page.get_by_label("1 unread message", exact=True)).to_be_visible()

    bob.page.get_by_role("link", name="Messages").click()
    conversation = bob.page.locator(".conv").filter(has_text=ann.full_name)
    expect(conversation.get_by_label("1 unread message")).to_be_visible()
    expect(conversation).to_contain_text("Lunch at noon")
    bob.shot(shots, "conversations-phone")
    conversation.get_by_role("link").click()

    # Bob opened it: Ann sees the read receipt.
    expect(bob.page.locator(".msg.theirs").filter(has_text="Lunch at noon")).to_be_visible()
    expect(mine.locator(".status")).to_have_text("Read")

    # Bob types: Ann sees it; Bob's answer arrives live and clears the indicator.
    composer_b = bob.page.get_by_label(f"Message {ann.full_name}")
    composer_b.press_sequentially("Sure", delay=30)
    expect(ann.page.locator(".typing")).to_have_text(f"{bob.full_name} is typing…")
    composer_b.press_sequentially(", see you there!", delay=10)
    composer_b.press("Enter")
    answer = ann.page.locator(".msg.theirs").filter(has_text="Sure, see you there!")
    expect(answer).to_be_visible()
    expect(ann.page.locator(".typing")).to_have_text("")
    expect(bob.page.locator(".msg.mine").filter(has_text="see you there").locator(".status")).to_have_text("Read")

    # A response (reply) to Bob's message, seen by Bob live.
    answer.get_by_role("button", name="Reply to this message").click()
    ann.page.get_by_label("Your reply").fill("Great, the usual place")
    ann.page.get_by_role("button", name="Send reply").click()
    expect(answer.locator(".responses")).to_contain_text("Great, the usual place")
    expect(bob.page.locator(".msg.mine").filter(has_text="see you there")
           .get_by_role("button", name="1 reply to this message")).to_be_visible()

    # Edit and delete travel too.
    mine.get_by_role("button", name="Edit").click()
    ann.page.get_by_label("New text").fill("Hi Bob! Lunch at 12:30?")
    ann.page.get_by_role("button", name="Save").click()
    theirs = bob.page.locator(".msg.theirs").filter(has_text="Lunch at 12:30?")
    expect(theirs.locator(".edited")).to_be_visible()
    # Reactions: Bob's 👍 reaches Ann live; Ann adds hers to it, then Bob takes his back.
    theirs.get_by_role("button", name="React to this message").click()
    theirs.get_by_role("button", name="React 👍").click()
    expect(theirs.locator(".reactions")).to_have_text("👍 1")
    edited = ann.page.locator(".msg.mine").filter(has_text="Lunch at 12:30?")
    expect(edited.locator(".reactions")).to_have_text("👍 1")
    edited.get_by_role("button", name="👍 1").click()
    expect(edited.get_by_role("button", name="👍 2, yours: take it back")).to_have_attribute("aria-pressed", "true")
    expect(theirs.locator(".reactions")).to_have_text("👍 2")
    theirs.get_by_role("button", name="👍 2, yours: take it back").click()
    expect(edited.locator(".reactions")).to_have_text("👍 1")
    composer_a.fill("oops, wrong chat")
    composer_a.press("Enter")
    expect(bob.page.locator(".msg").filter(has_text="oops, wrong chat")).to_be_visible()
    ann.page.locator(".msg.mine").filter(has_text="oops").get_by_role("button", name="Delete").click()
    ann.page.get_by_role("button", name="Yes, delete").click()
    expect(bob.page.locator(".msg").filter(has_text="oops, wrong chat")).to_have_count(0)

    # An image message, with a caption.
    composer_a.fill("The view from the office")
    ann.page.locator("#chat-image").set_input_files(str(_picture(tmp_path / "view.jpg")))
    sent = bob.page.locator(".msg.theirs").filter(has_text="The view from the office")
    expect(sent.locator(".msg-media img")).to_be_visible()
    assert sent.locator(".msg-media img").evaluate("img => img.complete && img.naturalWidth > 0")

    # Bob's network drops: he sees "Reconnecting…"; what Ann sends meanwhile is replayed once
    # he is back, and what he wrote offline is delivered then.
    bob.context.set_offline(True)
    expect(bob.conn).to_have_text("Reconnecting…")
    for n in range(1, 4):
        composer_a.fill(f"missed {n}")
        composer_a.press("Enter")
        expect(ann.page.locator(".msg.mine").filter(has_text=f"missed {n}").locator(".status")).to_have_text("Sent")
    composer_b.fill("written offline")
    composer_b.press("Enter")
    expect(bob.page.locator(".msg.mine").filter(has_text="written offline").locator(".status")).to_contain_text("Not sent")
    bob.shot(shots, "chat-reconnecting-phone")
    bob.context.set_offline(False)
    expect(bob.conn).to_have_text("Live")
    for n in range(1, 4):
        expect(bob.page.locator(".msg.theirs").filter(has_text=f"missed {n}")).to_have_count(1)
    expect(ann.page.locator(".msg.theirs").filter(has_text="written offline")).to_have_count(1)
    expect(bob.page.locator(".msg.mine").filter(has_text="written offline").locator(".status")).to_have_text("Read")
    expect(ann.page.locator(".msg.mine").filter(has_text="missed 3").locator(".status")).to_have_text("Read")
    assert bob.page.locator(".msg").count() == ann.page.locator(".msg").count()
    ann.shot(shots, "chat")
    bob.shot(shots, "chat-phone")


def test_post_with_image_reaches_the_follower_and_a_like_arrives_live(people, server, shots, tmp_path):
    from playwright.sync_api import expect

    cleo = people("cleo")
    dan = people("dan")
    cleo.register("Cleo Clarke")
    dan.register("Dan Dupont")
    dan.follow(cleo)

    # Cleo's profile: picture (upload progress) and bio.
    photo = _picture(tmp_path / "hills.jpg")
    cleo.go("/settings")
    cleo.page.locator("#avatar-file").set_input_files(str(photo))
    expect(cleo.page.locator(".avatar-preview img")).to_be_visible()
    cleo.page.get_by_label("Bio").fill("Walks, hills and photographs.")
    cleo.page.get_by_label("Location").fill("Lisbon")
    cleo.page.get_by_role("button", name="Save profile").click()
    expect(cleo.page.get_by_text("Profile saved.")).to_be_visible()

    # A post with a title and an image; the upload shows its progress, then "Uploaded".
    cleo.go("/")
    cleo.page.get_by_label("Title (optional)").fill("Morning in the hills")
    cleo.page.get_by_label("What's happening?").fill("First light over the valley. Worth the early start.")
    cleo.page.locator("#compose-images").set_input_files(str(photo))
    expect(cleo.page.locator(".upload .upload-state")).to_have_text("Uploaded")
    cleo.page.get_by_role("button", name="Post", exact=True).click()
    card = cleo.page.locator("article.post").filter(has_text="Morning in the hills")
    expect(card).to_be_visible()

    # Dan's home feed has it, image included.
    dan.go("/")
    post = dan.page.locator("article.post").filter(has_text="Morning in the hills")
    expect(post).to_be_visible()
    image = post.locator(".media-grid img")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    dan.shot(shots, "feed")

    # Dan likes it: Cleo's notification badge goes up without a reload.
    cleo.go("/explore")
    expect(cleo.page.get_by_label("1 unread notification", exact=True)).to_be_visible()  # Dan's follow
    post.get_by_role("button", name="Like").click()
    expect(post.get_by_role("button", name="Like")).to_have_attribute("aria-pressed", "true")
    expect(cleo.page.get_by_label("2 unread notifications")).to_be_visible()
    cleo.page.get_by_role("link", name="Notifications").click()
    expect(cleo.page.locator(".note.unread").first).to_contain_text("liked your post")

    # The post page: Dan comments; Cleo sees it, likes it, edits her post.
    post.get_by_role("link", name="Open").click()
    dan.page.get_by_label("Your comment").fill("Stunning. Which trail is that?")
    dan.page.get_by_role("button", name="Comment").click()
    expect(dan.page.locator(".comment")).to_contain_text("Which trail")
    expect(dan.page.locator("article.post .comments-link")).to_have_text("1 comment")
    cleo.page.locator(".note").filter(has_text="commented").get_by_role("link").click()
    expect(cleo.page.locator(".comment")).to_contain_text("Which trail")
    cleo.page.locator(".comment").get_by_role("button", name="Like comment").click()
    cleo.page.get_by_role("button", name="Edit post").click()
    cleo.page.get_by_label("Text").fill("First light over the valley. Worth the early start. (Trail 7.)")
    cleo.page.get_by_role("button", name="Save").click()
    expect(cleo.page.locator("article.post .edited")).to_be_visible()
    cleo.shot(shots, "post")

    # A profile page with its picture, bio, counts and posts; followers list.
    dan.go(f"/@{cleo.username}")
    expect(dan.page.get_by_role("heading", name="Cleo Clarke")).to_be_visible()
    expect(dan.page.get_by_text("Walks, hills and photographs.")).to_be_visible()
    expect(dan.page.get_by_role("link", name="1 follower", exact=True)).to_be_visible()
    dan.shot(shots, "profile")
    dan.page.get_by_role("link", name="1 follower", exact=True).click()
    expect(dan.page.locator(".user-row")).to_contain_text(dan.full_name)

    # "Load more" walks the public timeline on its keyset cursor.
    token = cleo.token()
    for n in range(21):
        _api(server, "POST", "/api/v1/posts", token, {"content": f"Note number {n}"})
    dan.go("/explore")
    expect(dan.page.locator("article.post")).to_have_count(20)
    dan.page.get_by_role("button", name="Load more").click()
    expect(dan.page.locator("article.post")).to_have_count(22)
    expect(dan.page.get_by_role("button", name="Load more")).to_be_hidden()

    # Deleting the post takes it away; logging out ends the session.
    cleo.go(f"/post/{_post_id(card)}")
    cleo.page.get_by_role("button", name="Delete post").click()
    cleo.page.get_by_role("button", name="Yes, delete").click()
    expect(cleo.page.get_by_role("heading", name="Home")).to_be_visible()
    cleo.page.get_by_role("button", name="Log out").click()
    expect(cleo.nav.get_by_role("link", name="Log in")).to_be_visible()
    expect(cleo.conn).to_have_text("")


def test_search_tags_and_mentions_link_through(people, server, shots):
    from playwright.sync_api import expect

    eva = people("eva")
    fin = people("fin")
    eva.register("Eva Evans")
    fin.register("Fin Fischer")

    # Eva's post: its #tag and @mention are links (the ones the server parsed), the rest is text.
    eva.go("/")
    eva.page.get_by_label("What's happening?").fill(f"Otters holding hands at dawn #RiverLife with @{fin.username}, "
                                                     "#123 and @nobody_here")
    eva.page.get_by_role("button", name="Post", exact=True).click()
    card = eva.page.locator("article.post").filter(has_text="Otters holding hands")
    expect(card.get_by_role("link", name="#RiverLife")).to_have_attribute("href", "#/tags/riverlife")
    post_id = _post_id(card)
    expect(card.get_by_role("link", name=f"@{fin.username}")).to_have_attribute("href", f"#/@{fin.username}")
    expect(card.get_by_role("link", name="@nobody_here")).to_have_count(0)
    expect(card.get_by_role("link", name="#123")).to_have_count(0)

    # Fin searches its words from the navigation, finds it, opens its tag and follows the tag.
    fin.nav.get_by_role("link", name="Search").click()
    fin.page.get_by_label("Search posts, people or tags").fill("otters dawn")
    fin.page.get_by_role("button", name="Search", exact=True).click()
    found = fin.page.locator("article.post").filter(has_text="Otters holding hands")
    expect(found).to_be_visible()
    expect(fin.page.get_by_role("complementary", name="Trending tags")).to_contain_text("#riverlife")
    fin.shot(shots, "search")
    found.get_by_role("link", name="#RiverLife").click()
    expect(fin.page.get_by_role("heading", name="#riverlife")).to_be_visible()
    expect(fin.page.locator("article.post")).to_have_count(1)
    fin.page.get_by_role("button", name="Follow #riverlife").click()
    expect(fin.page.get_by_role("button", name="Unfollow #riverlife")).to_have_attribute("aria-pressed", "true")
    fin.go("/tags/RiverLife")  # any case: the same tag, still followed
    expect(fin.page.get_by_role("button", name="Unfollow #riverlife")).to_be_visible()
    # A followed tag brings the post into Fin's home feed (Fin does not follow Eva).
    fin.go("/")
    expect(fin.page.locator("article.post").filter(has_text="Otters holding hands")).to_be_visible()

    # People and tags by prefix; nothing found says so.
    fin.go(f"/search?q={eva.username}&type=users")
    expect(fin.page.locator(".user-row").filter(has_text="Eva Evans")).to_be_visible()
    fin.go("/search?q=riverl&type=tags")
    expect(fin.page.get_by_label("Search results for riverl").get_by_role("link", name="#riverlife")).to_be_visible()
    fin.go("/search?q=zebras%20otters")
    expect(fin.page.get_by_text("Nothing matches")).to_be_visible()
    # The mention leads to Fin's own profile.
    fin.go("/search?q=otters")
    fin.page.locator("article.post").filter(has_text="Otters holding hands").get_by_role(
        "link", name=f"@{fin.username}").click()
    expect(fin.page.get_by_role("heading", name="Fin Fischer")).to_be_visible()

    # Two likes of the post on one day are one notification for Eva: "gus…, fin… liked your post".
    fin.go("/search?q=otters")
    fin.page.locator("article.post").filter(has_text="Otters holding hands").get_by_role("button", name="Like").click()
    gus = _register(server, f"gus{uuid.uuid4().hex[:5]}")
    _api(server, "PUT", f"/api/v1/posts/{post_id}/like", gus["access_token"])
    eva.go("/notifications")
    group = eva.page.locator(".note").filter(has_text="liked your post")
    expect(group).to_have_count(1)
    expect(group).to_contain_text(f"{gus['user']['username']} and {fin.username} liked your post")
    expect(group.locator(".faces .avatar")).to_have_count(2)
    expect(group).to_have_class(re.compile(r"\bunread\b"))
    group.get_by_role("link").click()
    expect(eva.page.locator("article.post .post-content")).to_contain_text("Otters holding hands")
    eva.go("/notifications")
    expect(eva.page.locator(".note").filter(has_text="liked your post")).not_to_have_class(re.compile(r"\bunread\b"))
    # Eva switches likes off in her settings: a third like is neither kept nor shown.
    eva.go("/settings")
    eva.page.get_by_label("Likes of my posts").uncheck()
    expect(eva.page.get_by_text("Likes of my posts: off.")).to_be_visible()
    hal = _register(server, f"hal{uuid.uuid4().hex[:5]}")
    _api(server, "PUT", f"/api/v1/posts/{post_id}/like", hal["access_token"])
    eva.go("/notifications")
    expect(eva.page.locator(".note").filter(has_text="liked your post")).to_contain_text(
        f"{gus['user']['username']} and {fin.username} liked your post")
    eva.go("/settings")
    expect(eva.page.get_by_label("Likes of my posts")).not_to_be_checked()
    expect(eva.page.get_by_label("Mentions of me")).to_be_checked()

    # Fin saves the post for later: only Fin's "Saved posts" list has it.
    fin.go("/search?q=otters")
    fin.page.locator("article.post").filter(has_text="Otters holding hands").get_by_role("button", name="Bookmark").click()
    expect(fin.page.get_by_role("button", name="Remove bookmark")).to_have_attribute("aria-pressed", "true")
    fin.go("/")
    fin.page.get_by_role("link", name="Saved posts").click()
    expect(fin.page.get_by_role("heading", name="Saved posts")).to_be_visible()
    saved = fin.page.locator("article.post").filter(has_text="Otters holding hands")
    expect(saved).to_be_visible()
    saved.get_by_role("button", name="Remove bookmark").click()
    expect(saved.get_by_role("button", name="Bookmark")).to_have_attribute("aria-pressed", "false")
    eva.go("/bookmarks")
    expect(eva.page.get_by_text("Nothing saved yet")).to_be_visible()

    # Eva edits the post; on its page "edited" opens the version it replaced.
    eva.go(f"/post/{post_id}")
    eva.page.get_by_role("button", name="Edit post").click()
    eva.page.get_by_label("Text").fill("Otters holding hands at sunrise #RiverLife")
    eva.page.get_by_role("button", name="Save").click()
    history = eva.page.get_by_role("button", name="edited")
    expect(history).to_have_attribute("aria-expanded", "false")
    history.click()
    versions = eva.page.get_by_role("region", name="Earlier versions")
    expect(versions).to_contain_text("Otters holding hands at dawn")
    expect(eva.page.locator("article.post .post-content")).to_have_text("Otters holding hands at sunrise #RiverLife")
    eva.shot(shots, "post-history")


def _post_id(card) -> str:
    return card.get_attribute("data-post-id")


def test_forms_show_problem_details_next_to_fields(people, server):
    from playwright.sync_api import expect

    eve = people("eve", PHONE)
    eve.register("Eve")
    taken = eve.username
    eve.page.get_by_role("button", name="Log out").click()
    expect(eve.nav.get_by_role("link", name="Log in")).to_be_visible()
    eve.go("/register")
    eve.page.get_by_label("Username").fill(taken)
    eve.page.get_by_label("Email").fill("not-an-email")
    eve.page.get_by_label("Password").fill("short")
    eve.page.get_by_role("button", name="Create account").click()
    # 422: each message under its own field, the field marked invalid
    expect(eve.page.locator("[data-error-for=email]")).not_to_be_empty()
    expect(eve.page.locator("[data-error-for=password]")).not_to_be_empty()
    expect(eve.page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    # 409: the taken username
    eve.page.get_by_label("Email").fill(f"{taken}2@example.com")
    eve.page.get_by_label("Password").fill(PASSWORD)
    eve.page.get_by_role("button", name="Create account").click()
    expect(eve.page.locator("[data-error-for=username]")).to_have_text("This username is taken.")
    # 401 on login: next to the password
    eve.go("/login")
    eve.page.get_by_label("Username or email").fill(taken)
    eve.page.get_by_label("Password").fill("wrong password")
    eve.page.get_by_role("button", name="Log in").click()
    expect(eve.page.locator("[data-error-for=password]")).to_have_text("Wrong login or password.")
    eve.page.get_by_label("Password").fill(PASSWORD)
    eve.page.get_by_role("button", name="Log in").click()
    expect(eve.page.get_by_role("heading", name="Home")).to_be_visible()
    # keyboard only: on a fresh page the skip link comes first
    eve.page.reload()
    expect(eve.conn).to_have_text("Live")
    eve.page.keyboard.press("Tab")
    expect(eve.page.get_by_role("link", name="Skip to content")).to_be_focused()


def test_block_mute_report_dm_policy_and_sessions(people, server):
    from playwright.sync_api import expect

    ann = people("ann")
    bob = people("bob", PHONE)  # a 360 px phone
    ann.register("Ann Archer")
    bob.register("Bob Baker")
    ann_id = json.loads(ann.page.evaluate("localStorage.getItem('chatter.session')"))["user"]["id"]

    # Ann blocks Bob from his profile: to Bob, Ann is then not found.
    ann.go(f"/@{bob.username}")
    ann.page.get_by_role("button", name=f"Block {bob.username}").click()
    unblock = ann.page.get_by_role("button", name=f"Unblock {bob.username}")
    expect(unblock).to_have_attribute("aria-pressed", "true")
    bob.go(f"/@{ann.username}")
    expect(bob.page.get_by_role("heading", name="Not found")).to_be_visible()
    unblock.click()
    expect(ann.page.get_by_role("button", name=f"Block {bob.username}")).to_have_attribute("aria-pressed", "false")

    # Mute and unmute; a report with a reason and a comment.
    ann.page.get_by_role("button", name=f"Mute {bob.username}").click()
    ann.page.get_by_role("button", name=f"Unmute {bob.username}").click()
    expect(ann.page.get_by_role("button", name=f"Mute {bob.username}")).to_have_attribute("aria-pressed", "false")
    ann.page.get_by_role("button", name=f"Report {bob.username}").click()
    ann.page.get_by_label("Reason").select_option("spam")
    ann.page.get_by_label("Details (optional)").fill("Sends the same link to everyone.")
    ann.page.get_by_role("button", name="Send report").click()
    expect(ann.page.get_by_text("your report was sent")).to_be_visible()

    # At 360 px the actions and the report form fit without sideways scrolling.
    bob.page.get_by_role("button", name="Try again").click()  # the same route: render it again
    bob.page.get_by_role("button", name=f"Report {ann.username}").click()
    expect(bob.page.get_by_label("Reason")).to_be_focused()
    assert bob.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    bob.page.get_by_role("button", name="Cancel").click()

    # Ann accepts messages from nobody: Bob's message is refused inline.
    ann.go("/settings")
    ann.page.get_by_label("Who may message me").select_option("nobody")
    ann.page.get_by_role("button", name="Save privacy").click()
    expect(ann.page.get_by_text("Privacy saved.")).to_be_visible()
    bob.go(f"/chat/{ann_id}")
    composer = bob.page.get_by_label(f"Message {ann.full_name}")
    composer.fill("Hello?")
    composer.press("Enter")
    expect(bob.page.get_by_role("alert").filter(has_text="This user does not accept your messages.")).to_be_visible()

    # A second login shows as a second session; signing it out removes it.
    req = urllib.request.Request(server + "/api/v1/auth/login", method="POST",  # noqa: S310
                                 data=json.dumps({"login": ann.username, "password": PASSWORD}).encode(),
                                 headers={"Content-Type": "application/json", "User-Agent": "SecondDevice/1.0"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
        second = json.loads(resp.read())["access_token"]
    ann.page.reload()
    sessions = ann.page.get_by_role("list", name="Signed-in sessions").get_by_role("listitem")
    expect(sessions).to_have_count(2)
    expect(sessions.filter(has_text="This device")).to_have_count(1)
    other = sessions.filter(has_text="SecondDevice/1.0")
    other.get_by_role("button").click()
    expect(sessions).to_have_count(1)
    expect(sessions.first).to_contain_text("This device")
    with pytest.raises(urllib.error.HTTPError) as ended:
        _api(server, "GET", "/api/v1/users/me", second)
    assert ended.value.code == 401
    ended.value.close()


def test_web_client_files_and_headers(server):
    with urllib.request.urlopen(server + "/", timeout=5) as resp:  # noqa: S310 - loopback
        csp = resp.headers["Content-Security-Policy"]
        html = resp.read().decode()
        assert resp.headers["Cache-Control"] == "no-cache"
        assert resp.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert "<script>" not in html and "style=" not in html
    with urllib.request.urlopen(server + "/app/js/main.js", timeout=5) as resp:  # noqa: S310
        assert resp.headers["Content-Type"].startswith("text/javascript")
        assert resp.headers.get("ETag")
    for bad in ("/app/../server/app.py", "/app/js/../../config.yaml", "/app/nope.js"):
        try:
            urllib.request.urlopen(server + bad, timeout=5)  # noqa: S310
        except urllib.error.HTTPError as exc:
            assert exc.code == 404, bad
        else:
            raise AssertionError(f"{bad} was served")
    for web_file in (ROOT / "web").rglob("*"):
        if web_file.suffix in (".js", ".html", ".css"):
            text = web_file.read_text()
            assert "innerHTML" not in text, web_file
            assert "https://" not in text and "http://" not in text.replace("http://www.w3.org", ""), web_file
