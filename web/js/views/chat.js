// Conversations (unread counts, live) and the one-to-one chat: live messages, typing, read receipts,
// responses (replies to one message), edit/delete, image messages, and sends that survive a drop.

import * as api from "../api.js";
import { avatar, clearErrors, displayName, field, h, icon, plural, showErrors, time, toast } from "../dom.js";
import { confirmButton, pager, uploadItem } from "../components.js";

const QUICK = ["👍", "❤️", "😂", "😮", "😢"]; // the React button's choices (any emoji works in the API)
const TYPING_SHOWN = 5000;
const TYPING_EVERY = 2000;

function preview(msg, me) {
  const who = msg.sender_id === me.id ? "You: " : "";
  if (msg.message_type === "image") return `${who}Photo${msg.content ? `: ${msg.content}` : ""}`;
  if (msg.message_type === "video") return `${who}Video${msg.content ? `: ${msg.content}` : ""}`;
  return who + msg.content;
}

export async function conversationsView(ctx) {
  const me = api.me();
  const row = (c) => h("li", { class: ["conv", c.unread_count > 0 && "unread"], "data-peer-id": c.peer.id },
    h("a", { href: `#/chat/${c.peer.id}`, class: "conv-link" },
      avatar(c.peer),
      h("span", { class: "conv-main" },
        h("span", { class: "conv-name" }, displayName(c.peer), ctx.presence.get(c.peer.id) ? h("span", { class: "dot", title: "online", "aria-label": "online" }) : null),
        h("span", { class: "conv-preview" }, preview(c.last_message, me))),
      h("span", { class: "conv-side" },
        time(c.last_message.created_at),
        c.unread_count > 0 ? h("span", { class: "badge", "aria-label": plural(c.unread_count, "unread message") }, String(c.unread_count)) : null)));
  const list = pager({
    tag: "ul",
    label: "Conversations",
    empty: "No conversations yet. Open someone's profile and choose Message.",
    load: (cursor) => api.get("/api/v1/conversations", { before: cursor }, { signal: ctx.signal }),
    render: row,
    signal: ctx.signal,
  });
  let timer = null;
  const reload = () => {
    clearTimeout(timer);
    timer = setTimeout(() => list.reload(), 200);
  };
  for (const type of ["message.created", "message.deleted", "message.read", "reset", "presence"]) ctx.rt.on(type, reload, ctx.signal);
  await list.ready;
  return h("section", {},
    h("div", { class: "view-head" }, h("h1", { tabindex: "-1" }, "Messages"), h("a", { href: "#/people", class: "button" }, "New message")),
    h("div", { class: "card" }, list.el));
}

export async function chatView(ctx) {
  const me = api.me();
  const peerId = Number(ctx.params.id);
  if (peerId === me.id) throw Object.assign(new Error("You cannot message yourself."), { status: 422 });
  const peer = await api.get(`/api/v1/users/${peerId}`, null, { signal: ctx.signal });
  const name = displayName(peer);
  const signal = ctx.signal;

  const byId = new Map(); // message id → {msg, el, paint, responses:Set, count, thread}
  const pending = new Map(); // client_id → {el, body, state}
  let peerRead = 0; // my messages up to this id are read by the peer
  let olderCursor = null;
  let markedUpTo = 0;

  const log = h("ol", { class: "messages" });
  const older = h("button", { type: "button", class: "more", hidden: true }, "Load older messages");
  const scroller = h("div", { class: "chat-log", role: "log", "aria-label": `Messages with ${name}`, tabindex: "0" }, older, log);
  const typing = h("p", { class: "typing", "aria-live": "polite" });
  const presence = h("span", { class: "presence" });
  const paintPresence = () => {
    const online = ctx.presence.get(peerId);
    presence.textContent = online ? "online" : "";
    presence.classList.toggle("on", !!online);
  };
  paintPresence();

  const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  const toBottom = () => { scroller.scrollTop = scroller.scrollHeight; };

  // --- one message ---------------------------------------------------------------------------

  function statusText(msg) {
    if (msg.read_at || msg.id <= peerRead) return "Read";
    return "Sent";
  }

  function messageItem(msg, { pendingState = null } = {}) {
    const mine = msg.sender_id === me.id;
    const text = h("p", { class: "text", hidden: !msg.content }, msg.content);
    const media = msg.media
      ? h("a", { href: msg.media.url, target: "_blank", rel: "noopener", class: "msg-media" },
        h("img", { src: msg.media.thumbnail_url || msg.media.url, alt: `Image from ${mine ? "you" : name}`, loading: "lazy" }))
      : null;
    const edited = h("span", { class: "edited", hidden: !msg.edited_at }, "edited");
    const status = mine ? h("span", { class: "status" }, pendingState || statusText(msg)) : null;
    const bubble = h("div", { class: "bubble" },
      h("span", { class: "visually-hidden" }, mine ? "You said:" : `${name} said:`),
      media, text,
      h("div", { class: "meta" }, time(msg.created_at, "clock"), edited, status));
    const li = h("li", { class: ["msg", mine ? "mine" : "theirs", pendingState && "pending"], "data-id": msg.id ?? false, "data-client-id": msg.client_id || false }, bubble);
    if (pendingState) return { el: li, status };

    const entry = { msg, el: li, responses: new Set(), count: msg.responses_count, thread: null, status };
    const replies = h("button", { type: "button", class: "link-button replies", "aria-expanded": "false" });
    entry.paintCount = () => {
      replies.textContent = entry.count ? plural(entry.count, "reply", "replies") : "Reply";
      replies.classList.toggle("has-replies", entry.count > 0);
      replies.setAttribute("aria-label", entry.count ? `${plural(entry.count, "reply", "replies")} to this message` : "Reply to this message");
    };
    entry.paintCount();
    const thread = h("div", { class: "thread", hidden: true });
    replies.addEventListener("click", () => toggleThread(entry, thread, replies));
    const chips = h("div", { class: "reactions", "aria-label": "Reactions" });
    entry.paintReactions = (list) => {
      entry.msg.reactions = list;
      chips.replaceChildren(...list.map((r) => h("button", {
        type: "button", class: ["chip", r.me && "mine"], "aria-pressed": String(r.me),
        "aria-label": `${r.emoji} ${r.count}${r.me ? ", yours: take it back" : ""}`,
        onClick: () => react(entry, r.emoji, !r.me),
      }, `${r.emoji} ${r.count}`)));
    };
    entry.paintReactions(msg.reactions || []);
    const picker = h("span", { class: "react-picker", hidden: true },
      QUICK.map((emoji) => h("button", { type: "button", class: "link-button", "aria-label": `React ${emoji}`,
        onClick: () => { picker.hidden = true; react(entry, emoji, true); } }, emoji)));
    const reactButton = h("button", { type: "button", class: "link-button", "aria-label": "React to this message",
      onClick: () => { picker.hidden = !picker.hidden; } }, "React");
    const actions = h("div", { class: "msg-actions" }, replies, reactButton, picker);
    if (mine) {
      actions.append(
        h("button", { type: "button", class: "link-button", "aria-label": "Edit message", onClick: () => editMessage(entry, text) }, "Edit"),
        confirmButton("Delete", "Delete this message?", async () => {
          await api.del(`/api/v1/messages/${msg.id}`);
          removeMessage(msg.id);
        }, "Delete message"));
    }
    bubble.append(chips);
    li.append(actions, thread);
    entry.text = text;
    entry.edited = edited;
    byId.set(msg.id, entry);
    return entry;
  }

  // PUT / DELETE /api/v1/messages/{id}/reactions/{emoji}; both sides also get message.reaction.
  async function react(entry, emoji, on) {
    const path = `/api/v1/messages/${entry.msg.id}/reactions/${encodeURIComponent(emoji)}`;
    try {
      const result = on ? await api.put(path) : await api.del(path);
      entry.paintReactions(result.reactions);
    } catch (error) {
      toast(error.detail || error.message, "error");
    }
  }

  function editMessage(entry, text) {
    const save = h("button", { type: "submit", class: "primary" }, "Save");
    const form = h("form", { class: "form inline-edit", novalidate: true },
      field({ label: "New text", name: "content", value: entry.msg.content, maxlength: 5000 }),
      h("div", { class: "form-row" }, save, h("button", { type: "button", class: "link-button", onClick: () => { form.replaceWith(text); } }, "Cancel")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearErrors(form);
      try {
        const updated = await api.patch(`/api/v1/messages/${entry.msg.id}`, { content: form.elements.content.value });
        form.replaceWith(text);
        update(updated);
      } catch (error) {
        showErrors(form, error);
      }
    });
    text.hidden = false;
    text.replaceWith(form);
    form.elements.content.focus();
  }

  function update(msg) {
    const entry = byId.get(msg.id);
    if (!entry) return;
    entry.msg = { ...entry.msg, ...msg };
    entry.text.textContent = msg.content;
    entry.text.hidden = !msg.content;
    entry.edited.hidden = !msg.edited_at;
  }

  function removeMessage(id) {
    const entry = byId.get(id);
    if (!entry) return;
    entry.el.remove();
    byId.delete(id);
  }

  function paintStatuses() {
    for (const entry of byId.values()) {
      if (entry.status) entry.status.textContent = statusText(entry.msg);
    }
  }

  // Confirmed messages in id order; pending sends stay last.
  function insert(el, id) {
    for (const other of log.children) {
      const otherId = Number(other.dataset.id || Infinity);
      if (otherId > id || other.classList.contains("pending")) {
        log.insertBefore(el, other);
        return;
      }
    }
    log.append(el);
  }

  function upsert(msg) {
    if (byId.has(msg.id)) {
      update(msg);
      return;
    }
    const stick = nearBottom();
    const entry = messageItem(msg);
    const waiting = msg.client_id && pending.get(msg.client_id);
    if (waiting) {
      waiting.el.replaceWith(entry.el);
      pending.delete(msg.client_id);
    } else {
      insert(entry.el, msg.id);
    }
    if (stick || msg.sender_id === me.id) toBottom();
  }

  // --- responses (a reply thread under one message) --------------------------------------------

  function responseItem(r) {
    const mine = r.author_id === me.id;
    return h("li", { class: ["response", mine && "mine"], "data-id": r.id },
      h("span", { class: "who" }, mine ? "You" : name), ": ",
      r.media ? h("a", { href: r.media.url, target: "_blank", rel: "noopener" }, "image") : null,
      h("span", { class: "text" }, r.content), " ", time(r.created_at, "clock"));
  }

  async function toggleThread(entry, thread, button) {
    const open = thread.hidden;
    thread.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (!open || entry.thread) {
      if (open) entry.thread.form.elements.content.focus();
      return;
    }
    const list = h("ol", { class: "responses", "aria-label": "Replies" });
    const send = h("button", { type: "submit" }, "Send reply");
    const form = h("form", { class: "form reply-form", novalidate: true },
      field({ label: "Your reply", name: "content", maxlength: 5000, autocomplete: "off" }), send);
    entry.thread = { list, form };
    thread.append(list, form);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearErrors(form);
      const content = form.elements.content.value;
      if (!content.trim()) return showErrors(form, { errors: { content: ["Write a reply first."] } });
      try {
        send.disabled = true;
        const r = await api.post(`/api/v1/messages/${entry.msg.id}/responses`, { content }, { headers: { "Idempotency-Key": api.uuid() } });
        form.reset();
        addResponse(r);
      } catch (error) {
        showErrors(form, error);
      } finally {
        send.disabled = false;
      }
    });
    try {
      let cursor = 0;
      do {
        const page = await api.get(`/api/v1/messages/${entry.msg.id}/responses`, { after: cursor, limit: 100 }, { signal });
        for (const r of page.items) {
          if (entry.responses.has(r.id)) continue;
          entry.responses.add(r.id);
          list.append(responseItem(r));
        }
        cursor = page.next_cursor;
      } while (cursor);
    } catch (error) {
      if (error.name !== "AbortError") list.append(h("li", { class: "form-error", role: "alert" }, error.detail || error.message));
    }
    form.elements.content.focus();
  }

  function addResponse(r) {
    const entry = byId.get(r.message_id);
    if (!entry || entry.responses.has(r.id)) return;
    entry.responses.add(r.id);
    entry.count += 1;
    entry.paintCount();
    if (entry.thread) entry.thread.list.append(responseItem(r));
  }

  // --- reading ---------------------------------------------------------------------------------

  async function loadPage(cursor) {
    const page = await api.get(`/api/v1/conversations/${peerId}/messages`, { before: cursor, limit: 30 }, { signal });
    olderCursor = page.next_cursor;
    older.hidden = olderCursor === null;
    return page.items;
  }

  async function loadLatest() {
    const items = await loadPage(null);
    byId.clear();
    for (const el of [...log.children]) if (!el.classList.contains("pending")) el.remove();
    for (const msg of items.reverse()) {
      if (msg.sender_id === me.id && msg.read_at) peerRead = Math.max(peerRead, msg.id);
      insert(messageItem(msg).el, msg.id);
    }
    toBottom();
  }

  older.addEventListener("click", async () => {
    older.disabled = true;
    const before = scroller.scrollHeight;
    try {
      for (const msg of await loadPage(olderCursor)) {
        if (byId.has(msg.id)) continue;
        log.prepend(messageItem(msg).el);
      }
      scroller.scrollTop += scroller.scrollHeight - before;
    } catch (error) {
      toast(error.detail || error.message, "error");
    } finally {
      older.disabled = false;
    }
  });

  // Tell the server (and so the peer) what has been seen.
  async function markRead() {
    if (signal.aborted || document.visibilityState !== "visible") return;
    let newest = 0;
    for (const [id, entry] of byId) if (entry.msg.sender_id === peerId && id > newest) newest = id;
    if (newest <= markedUpTo) return;
    markedUpTo = newest;
    try {
      await api.post(`/api/v1/conversations/${peerId}/read`, { up_to_id: newest });
    } catch {
      markedUpTo = 0; // try again on the next message
    }
  }
  document.addEventListener("visibilitychange", markRead, { signal });

  // --- sending ---------------------------------------------------------------------------------

  const composer = h("form", { class: "composer", novalidate: true, "aria-label": `Send a message to ${name}` });
  const input = h("textarea", { id: "chat-input", name: "content", rows: 1, maxlength: 5000, placeholder: `Message ${name}`, "data-autofocus": true, "aria-describedby": "chat-input-error", autocomplete: "off" });
  const picker = h("input", { type: "file", id: "chat-image", accept: "image/jpeg,image/png,image/webp,image/gif", class: "visually-hidden-file" });
  const uploads = h("ul", { class: "uploads" });
  composer.append(
    h("p", { class: "field-error", id: "chat-input-error", "data-error-for": "content" }),
    uploads,
    h("div", { class: "composer-row" },
      h("label", { class: "file-button icon-button", title: "Send an image" }, icon("image"), h("span", { class: "visually-hidden" }, "Attach an image"), picker),
      h("label", { for: "chat-input", class: "visually-hidden" }, `Message ${name}`),
      input,
      h("button", { type: "submit", class: "primary" }, "Send")));

  async function send(body, retry = null) {
    const clientId = retry ? retry.clientId : api.uuid();
    let item = retry;
    if (!item) {
      const shown = messageItem({ id: null, client_id: clientId, sender_id: me.id, content: body.content, media: body.preview || null,
        created_at: new Date().toISOString(), responses_count: 0 }, { pendingState: "Sending…" });
      item = { clientId, body, el: shown.el, status: shown.status };
      pending.set(clientId, item);
      log.append(item.el);
      toBottom();
    }
    item.status.textContent = "Sending…";
    item.el.classList.remove("failed");
    item.el.querySelector(".retry")?.remove();
    const { preview: _, ...payload } = body;
    try {
      const msg = await api.post("/api/v1/messages", { recipient_id: peerId, client_id: clientId, ...payload });
      upsert(msg);
    } catch (error) {
      if (!pending.has(clientId)) return; // delivered meanwhile (the socket was faster)
      item.el.classList.add("failed");
      if (error.network) {
        item.status.textContent = "Not sent yet: will retry when back online";
        item.waiting = true;
      } else {
        const refused = error.status === 403 && error.slug === "dm-not-allowed";
        item.status.textContent = refused ? "Not sent" : `Not sent: ${error.detail || error.title}`;
        if (refused) {
          item.el.querySelector(".msg-error")?.remove();
          item.el.append(h("p", { class: "msg-error", role: "alert" }, "This user does not accept your messages."));
        }
        item.el.append(h("button", { type: "button", class: "link-button retry", onClick: () => send(body, item) }, "Retry"));
      }
    }
  }

  function retryWaiting() {
    for (const item of pending.values()) {
      if (item.waiting) {
        item.waiting = false;
        send(item.body, item);
      }
    }
  }

  composer.addEventListener("submit", (e) => {
    e.preventDefault();
    clearErrors(composer);
    const content = input.value;
    if (!content.trim()) return;
    input.value = "";
    send({ content });
    input.focus();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      composer.requestSubmit();
    }
  });
  let typingSent = 0;
  input.addEventListener("input", () => {
    const now = Date.now();
    if (input.value && now - typingSent > TYPING_EVERY && ctx.rt.send("typing", { to: peerId })) typingSent = now;
  });
  picker.addEventListener("change", () => {
    const file = picker.files[0];
    picker.value = "";
    if (!file) return;
    const { item, done } = uploadItem(file);
    uploads.replaceChildren(item);
    done.then((media) => {
      if (!media) return;
      item.remove();
      const caption = input.value;
      input.value = "";
      send({ content: caption, message_type: "image", media_id: media.id, preview: media });
    });
  });

  // --- live ------------------------------------------------------------------------------------

  const ours = (m) => (m.sender_id === peerId && m.recipient_id === me.id) || (m.sender_id === me.id && m.recipient_id === peerId);
  let typingTimer = null;
  const stopTyping = () => {
    clearTimeout(typingTimer);
    typing.textContent = "";
  };
  ctx.rt.on("message.created", (msg) => {
    if (!ours(msg)) return;
    upsert(msg);
    if (msg.sender_id === peerId) {
      stopTyping();
      markRead();
    }
  }, signal);
  ctx.rt.on("message.updated", (msg) => ours(msg) && update(msg), signal);
  ctx.rt.on("message.reaction", (data) => {
    if (ours(data)) byId.get(data.message_id)?.paintReactions(data.reactions);
  }, signal);
  ctx.rt.on("message.deleted", (msg) => ours(msg) && removeMessage(msg.id), signal);
  ctx.rt.on("message.read", (data) => {
    if (data.reader_id === peerId && data.peer_id === me.id) {
      peerRead = Math.max(peerRead, data.last_read_id);
      paintStatuses();
    }
  }, signal);
  ctx.rt.on("response.created", addResponse, signal);
  ctx.rt.on("typing", (data) => {
    if (data.user_id !== peerId) return;
    typing.textContent = `${name} is typing…`;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, TYPING_SHOWN);
  }, signal);
  ctx.rt.on("presence", (data) => data.user_id === peerId && paintPresence(), signal);
  ctx.rt.on("reset", () => loadLatest().then(markRead).catch(() => {}), signal);
  ctx.rt.on("hello", retryWaiting, signal);
  signal.addEventListener("abort", () => clearTimeout(typingTimer));

  await loadLatest();
  const view = h("section", { class: "chat", "aria-labelledby": "chat-title" },
    h("header", { class: "chat-head" },
      h("a", { href: "#/messages", class: "back", "aria-label": "Back to messages" }, "←"),
      avatar(peer),
      h("div", { class: "chat-who" },
        h("h1", { id: "chat-title", tabindex: "-1" }, h("a", { href: `#/@${peer.username}` }, name)),
        h("p", { class: "chat-sub" }, `@${peer.username} `, presence)),
    ),
    scroller,
    typing,
    composer);
  requestAnimationFrame(() => {
    toBottom();
    markRead();
  });
  return view;
}
