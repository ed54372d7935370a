// One post: edit and delete (author), likes, comments (add, like, edit, delete).

import * as api from "../api.js";
import { avatar, busy, clearErrors, field, h, plural, showErrors, time, toast, userLink } from "../dom.js";
import { confirmButton, likeButton, pager, postCard, richText } from "../components.js";

function commentItem(comment, post, onGone) {
  const me = api.me();
  const body = h("p", { class: "comment-content" }, richText(comment.content, comment));
  const edited = h("span", { class: "edited", hidden: !comment.edited }, "edited");
  const actions = h("div", { class: "comment-actions" },
    likeButton({ liked: comment.liked, count: comment.likes_count, path: `/api/v1/comments/${comment.id}/like`, label: "Like comment" }));
  const item = h("li", { class: "comment", "data-comment-id": comment.id },
    avatar(comment.author, "s"),
    h("div", { class: "comment-main" },
      h("div", { class: "byline" }, userLink(comment.author, "author"), time(comment.created_at), edited),
      body, actions));
  if (me && me.id === comment.author.id) {
    actions.append(h("button", { type: "button", class: "link-button", "aria-label": "Edit comment", onClick: () => {
      const save = h("button", { type: "submit", class: "primary" }, "Save");
      const form = h("form", { class: "form inline-edit", novalidate: true },
        field({ label: "Edit comment", name: "content", multiline: true, rows: 2, value: body.textContent }),
        h("div", { class: "form-row" }, save, h("button", { type: "button", class: "link-button", onClick: () => form.replaceWith(body) }, "Cancel")));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        clearErrors(form);
        try {
          const updated = await busy(save, () => api.patch(`/api/v1/comments/${comment.id}`, { content: form.elements.content.value }));
          body.replaceChildren(...richText(updated.content, updated));
          edited.hidden = !updated.edited;
          form.replaceWith(body);
        } catch (error) {
          showErrors(form, error);
        }
      });
      body.replaceWith(form);
      form.elements.content.focus();
    } }, "Edit"));
  }
  if (me && (me.id === comment.author.id || me.id === post.author.id)) {
    actions.append(confirmButton("Delete", "Delete this comment?", async () => {
      await api.del(`/api/v1/comments/${comment.id}`);
      item.remove();
      onGone(comment.id);
    }, "Delete comment"));
  }
  return item;
}

function editForm(post, card, replace) {
  const save = h("button", { type: "submit", class: "primary" }, "Save");
  const form = h("form", { class: "card form", novalidate: true, "aria-label": "Edit post" },
    h("h1", { tabindex: "-1" }, "Edit post"),
    field({ label: "Title (optional)", name: "title", value: post.title || "", maxlength: 100 }),
    field({ label: "Text", name: "content", multiline: true, rows: 5, value: post.content, maxlength: 5000 }),
    h("div", { class: "form-row" }, save, h("button", { type: "button", class: "link-button", onClick: () => form.replaceWith(card) }, "Cancel")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    try {
      const title = form.elements.title.value.trim();
      const updated = await busy(save, () => api.patch(`/api/v1/posts/${post.id}`, { title: title || null, content: form.elements.content.value }));
      replace(updated, form);
      toast("Post updated.");
    } catch (error) {
      showErrors(form, error);
    }
  });
  return form;
}

export async function postView(ctx) {
  const id = Number(ctx.params.id);
  let post = await api.get(`/api/v1/posts/${id}`, null, { signal: ctx.signal });
  const slot = h("div", { class: "post-slot" });
  let countLabel;
  const setCount = (n) => {
    post.comments_count = n;
    countLabel.textContent = plural(n, "comment");
    const link = slot.querySelector(".comments-link");
    if (link) link.textContent = plural(n, "comment");
  };
  const mount = (p, old = null) => {
    post = p;
    const card = postCard(p, {
      full: true,
      onDeleted: () => {
        toast("Post deleted.");
        ctx.navigate("/");
      },
      onEdit: (c) => {
        const form = editForm(post, c, mount);
        c.replaceWith(form);
        form.elements.title.focus();
      },
    });
    if (old) old.replaceWith(card);
    else slot.replaceChildren(card);
  };
  mount(post);

  countLabel = h("span", {}, plural(post.comments_count, "comment"));
  const comments = pager({
    tag: "ol",
    label: "Comments",
    empty: "No comments yet.",
    more: "More comments",
    // Oldest first: ?after= walks forward from the beginning.
    load: (cursor) => api.get(`/api/v1/posts/${id}/comments`, { after: cursor ?? 0, limit: 50 }, { signal: ctx.signal }),
    render: (c) => commentItem(c, post, (gone) => {
      comments.forget(gone);
      setCount(post.comments_count - 1);
    }),
    signal: ctx.signal,
  });

  let form = null;
  if (api.loggedIn()) {
    const submit = h("button", { type: "submit", class: "primary" }, "Comment");
    form = h("form", { class: "form comment-form", novalidate: true, "aria-label": "Add a comment" },
      field({ label: "Your comment", name: "content", multiline: true, rows: 2, maxlength: 2000 }),
      h("div", { class: "form-row" }, submit));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearErrors(form);
      if (!form.elements.content.value.trim()) return showErrors(form, { errors: { content: ["Write a comment first."] } });
      try {
        const comment = await busy(submit, () => api.post(`/api/v1/posts/${id}/comments`, { content: form.elements.content.value },
          { headers: { "Idempotency-Key": api.uuid() } }));
        form.reset();
        comments.append(comment);
        setCount(post.comments_count + 1);
      } catch (error) {
        showErrors(form, error);
      }
    });
  } else {
    form = h("p", { class: "muted" }, h("a", { href: `#/login?next=/post/${id}` }, "Log in"), " to comment.");
  }
  await comments.ready;
  return h("div", { class: "post-page" },
    slot,
    h("section", { class: "comments card", id: "comments", "aria-labelledby": "comments-title" },
      h("h2", { id: "comments-title" }, countLabel),
      comments.el,
      form));
}
