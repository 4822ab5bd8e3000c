// Polls /api/state every second and redraws a pane only when its data changed, so a click or
// a half-typed reply is never lost to a redraw. Text from the stand-ins goes in with
// textContent; only the Telegram message HTML, which the server builds from escaped text and
// its own tags, goes in with innerHTML.
"use strict";

const panes = { telegram: "", admin: "", facebook: "", zalo: "" };
let replyTo = null;

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function empty(container, label) {
  container.replaceChildren(el("p", { class: "empty" }, label));
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      // Proves the request comes from the page this console served (see console.py).
      "X-Console-Token": document.querySelector('meta[name="console-token"]').content,
    },
    body: JSON.stringify(body),
  });
  const result = await response.json();
  if (!result.ok) throw new Error(result.error || "lỗi");
  return result;
}

function setStatus(text, isError) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("error", Boolean(isError));
}

function startReply(messageId) {
  replyTo = messageId;
  document.getElementById("replying").hidden = false;
  document.getElementById("replying-id").textContent = "#" + messageId;
  document.getElementById("message-text").focus();
}

function cancelReply() {
  replyTo = null;
  document.getElementById("replying").hidden = true;
}

function renderTelegram(messages, traineeId) {
  const container = document.getElementById("telegram");
  if (!messages.length) return empty(container, "Chưa có tin nào trong nhóm.");
  const nodes = messages.map((m) => {
    const classes = ["msg", m.is_bot ? "bot" : "mine"];
    if (m.force_reply) classes.push("prompt");
    const box = el("article", { class: classes.join(" "), "data-message-id": String(m.id) });
    let meta = `#${m.id} · ${m.from} · ${m.time}`;
    if (m.edited) meta += " · đã sửa";
    if (m.reply_to) meta += ` · trả lời #${m.reply_to}`;
    box.append(el("div", { class: "meta" }, meta));
    if (m.photo) box.append(el("div", { class: "photo" }, "🖼 [Ảnh kèm theo]"));
    const text = el("div", { class: "text" });
    text.innerHTML = m.html; // built server-side from escaped text (console.render_entities)
    box.append(text);
    if (m.buttons.length) {
      const keyboard = el("div", { class: "keyboard" });
      for (const row of m.buttons) {
        const line = el("div", { class: "row" });
        for (const b of row) {
          if (b.data !== undefined) {
            const button = el("button", { type: "button", "data-callback": b.data }, b.text);
            button.addEventListener("click", () => press(m.id, b.data, button));
            line.append(button);
          } else {
            line.append(el("a", { href: b.url, target: "_blank", rel: "noopener noreferrer" }, b.text));
          }
        }
        keyboard.append(line);
      }
      box.append(keyboard);
    }
    if (m.force_reply) {
      box.append(el("div", { class: "meta" }, "Bot đang chờ bạn trả lời tin này" +
        (m.placeholder ? ` (${m.placeholder})` : "") + "."));
    }
    const reply = el("button", { type: "button", class: "reply-link" }, "↩ Trả lời");
    reply.addEventListener("click", () => startReply(m.id));
    box.append(reply);
    return box;
  });
  container.replaceChildren(...nodes);
  container.scrollTop = container.scrollHeight;
  const prompt = [...messages].reverse().find((m) => m.force_reply);
  if (prompt && replyTo === null && document.activeElement.id !== "message-text") {
    startReply(prompt.id);
  }
}

function renderAdmin(messages) {
  // Read-only: the alerts an admin would get. Same safe HTML as the staff group.
  const container = document.getElementById("admin");
  if (!messages.length) return empty(container, "Chưa có cảnh báo nào.");
  container.replaceChildren(...messages.map((m) => {
    const box = el("article", { class: "msg bot alert", "data-message-id": String(m.id) });
    box.append(el("div", { class: "meta" }, `#${m.id} · ${m.from} · ${m.time}`));
    const text = el("div", { class: "text" });
    text.innerHTML = m.html; // built server-side from escaped text (console.render_entities)
    box.append(text);
    return box;
  }));
  container.scrollTop = container.scrollHeight;
}

function renderFacebook(posts) {
  const container = document.getElementById("facebook");
  if (!posts.length) return empty(container, "Trang chưa có bài đăng.");
  container.replaceChildren(...posts.map((p) => {
    const box = el("article", { class: "post", "data-post-id": p.id });
    let meta = `${p.time} · ${p.id}`;
    if (!p.published) meta += " · chưa hiển thị";
    box.append(el("div", { class: "meta" }, meta));
    box.append(el("div", { class: "text message" }, p.message));
    if (p.image) box.append(el("div", { class: "photo" }, "🖼 " + p.image));
    if (p.link) box.append(el("a", { class: "link", href: p.link, target: "_blank", rel: "noopener noreferrer" }, p.link));
    return box;
  }));
}

function renderZalo(articles) {
  const container = document.getElementById("zalo");
  if (!articles.length) return empty(container, "OA chưa có bài viết.");
  container.replaceChildren(...articles.map((a) => {
    const box = el("article", { class: "article", "data-article-id": a.id });
    box.append(el("div", { class: "meta" }, `${a.time} · ${a.author || ""} `));
    box.lastChild.append(el("span", { class: "badge" }, a.status === "show" ? "hiển thị" : "ẩn"));
    box.append(el("h3", {}, a.title));
    box.append(el("p", {}, a.description));
    if (a.cover) box.append(el("div", { class: "cover" }, "Ảnh bìa: " + a.cover));
    const body = el("div", { class: "body" });
    for (const paragraph of a.body.slice(0, 5)) body.append(el("p", {}, paragraph));
    box.append(body);
    return box;
  }));
}

async function press(messageId, data, button) {
  button.disabled = true;
  try {
    await post("/api/press", { message_id: messageId, data: data });
    setStatus("Đã bấm: " + button.textContent);
  } catch (error) {
    setStatus("Không bấm được: " + error.message, true);
  } finally {
    button.disabled = false;
  }
}

async function send(event) {
  event.preventDefault();
  const input = document.getElementById("message-text");
  const text = input.value.trim();
  if (!text) return;
  try {
    await post("/api/send", { text: text, reply_to: replyTo });
    input.value = "";
    cancelReply();
    setStatus("Đã gửi");
  } catch (error) {
    setStatus("Không gửi được: " + error.message, true);
  }
}

async function refresh() {
  try {
    const response = await fetch("/api/state", { cache: "no-store" });
    const state = await response.json();
    document.getElementById("trainee").textContent = `${state.trainee.name} (id ${state.trainee.id})`;
    for (const [key, draw] of [["telegram", renderTelegram], ["admin", renderAdmin], ["facebook", renderFacebook], ["zalo", renderZalo]]) {
      const snapshot = JSON.stringify(state[key]);
      if (snapshot !== panes[key]) {
        panes[key] = snapshot;
        draw(state[key], state.trainee.id);
      }
    }
    if (document.getElementById("status").classList.contains("error") === false) {
      setStatus("Đã kết nối · " + new Date().toLocaleTimeString("vi-VN"));
    }
  } catch (error) {
    setStatus("Mất kết nối với máy chủ tập huấn", true);
  }
}

document.getElementById("composer").addEventListener("submit", send);
document.getElementById("cancel-reply").addEventListener("click", cancelReply);
refresh();
setInterval(refresh, 1000);
