"""The chat page served at "/": one self-contained HTML document talking to the user-side API.

It is kept as a Python string so that it ships with the package without any package-data setup.
All bot-provided text goes into the DOM through textContent and element construction, never as markup.
"""

CHAT_PAGE_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fake Telegram — local chat</title>
<style>
  :root {
    --bg: #eef1f5; --panel: #ffffff; --line: #d8dde5; --text: #1d2733; --muted: #6b7785;
    --accent: #2f7fd1; --bot: #ffffff; --me: #dcf3d0; --warn: #b5461f;
  }
  * { box-sizing: border-box; }
  /* dvh where supported: on phones 100vh is taller than the visible area and hides the message box. */
  body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
         color: var(--text); background: var(--bg); height: 100vh; height: 100dvh; display: flex;
         flex-direction: column; }
  header { background: #24384f; color: #fff; padding: 10px 16px; display: flex; align-items: baseline;
           gap: 12px; flex-wrap: wrap; }
  header h1 { font-size: 17px; margin: 0; }
  header small { color: #c3d0de; }
  header .tagline-short { display: none; }
  main { flex: 1; display: flex; min-height: 0; }
  aside { width: 290px; background: var(--panel); border-right: 1px solid var(--line); padding: 14px;
          overflow-y: auto; display: flex; flex-direction: column; gap: 16px; }
  aside h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted);
             margin: 0 0 6px; }
  label { display: block; font-size: 13px; color: var(--muted); margin-top: 6px; }
  input, select { width: 100%; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px;
                  font: inherit; background: #fff; color: var(--text); }
  button { font: inherit; cursor: pointer; border-radius: 6px; border: 1px solid var(--accent);
           background: var(--accent); color: #fff; padding: 6px 12px; }
  button.secondary { background: #fff; color: var(--accent); }
  button:disabled { opacity: .55; cursor: default; }
  .hint { font-size: 13px; color: var(--muted); }
  .hint code, .info code { background: #f1f3f6; padding: 1px 4px; border-radius: 4px; word-break: break-all; }
  .info { font-size: 13px; display: grid; gap: 3px; }
  .error { color: var(--warn); font-size: 13px; min-height: 1em; }
  #chat { flex: 1; display: flex; flex-direction: column; min-width: 0; min-height: 0; }
  #panelToggle { display: none; }
  #messages { flex: 1; overflow-y: auto; padding: 16px; display: flex; flex-direction: column; gap: 8px; }
  .empty { margin: auto; color: var(--muted); text-align: center; max-width: 420px; }
  .msg { max-width: min(560px, 80%); padding: 8px 11px; border-radius: 12px; background: var(--bot);
         box-shadow: 0 1px 1px rgba(0,0,0,.08); align-self: flex-start; overflow-wrap: anywhere; }
  .msg.me { background: var(--me); align-self: flex-end; }
  .msg .text { white-space: pre-wrap; }
  .msg .meta { font-size: 11px; color: var(--muted); text-align: right; margin-top: 3px; }
  .msg .quote { border-left: 3px solid var(--accent); padding-left: 6px; margin-bottom: 4px;
                font-size: 13px; color: var(--muted); }
  .keyboard { display: grid; gap: 4px; margin-top: 6px; }
  .keyboard .row { display: flex; gap: 4px; }
  .keyboard .row > * { flex: 1; text-align: center; padding: 6px 8px; border-radius: 8px; font-size: 14px;
                       background: #eef4fb; color: var(--accent); border: 1px solid #cfe0f3;
                       text-decoration: none; }
  .keyboard .row > .waiting { opacity: .6; }
  .keyboard .row > .unsupported { color: var(--muted); cursor: not-allowed; }
  .spoiler { background: #c9ced6; color: transparent; border-radius: 3px; cursor: pointer; }
  .spoiler.shown { background: transparent; color: inherit; }
  pre { background: #f4f6f8; padding: 6px 8px; border-radius: 6px; overflow-x: auto; margin: 4px 0; }
  blockquote { border-left: 3px solid var(--accent); margin: 4px 0; padding-left: 8px; }
  #replyKeyboard { padding: 6px 12px 0; display: grid; gap: 4px; background: var(--panel); }
  #replyKeyboard:empty { display: none; }
  #replyKeyboard .row { display: flex; gap: 4px; }
  #replyKeyboard button { flex: 1; background: #eef4fb; color: var(--text); border-color: #cfe0f3; }
  #composer { display: flex; gap: 8px; padding: 10px 12px; background: var(--panel);
              border-top: 1px solid var(--line); align-items: center; }
  #composer input { flex: 1; }
  #menuList { position: absolute; bottom: 58px; left: 12px; background: #fff; border: 1px solid var(--line);
              border-radius: 8px; box-shadow: 0 4px 14px rgba(0,0,0,.15); max-height: 300px; overflow-y: auto;
              min-width: 260px; }
  #menuList button { display: block; width: 100%; text-align: left; background: #fff; color: var(--text);
                     border: 0; border-radius: 0; padding: 8px 12px; }
  #menuList button:hover { background: #eef4fb; }
  #menuList .desc { color: var(--muted); margin-left: 8px; }
  #chatWrap { position: relative; display: flex; flex-direction: column; flex: 1; min-height: 0; }
  #toast { position: fixed; top: 64px; left: 50%; transform: translateX(-50%); background: rgba(29,39,51,.92);
           color: #fff; padding: 8px 14px; border-radius: 8px; max-width: 80vw; display: none; }
  #toast a { color: #9fd0ff; }
  dialog { border: 0; border-radius: 10px; max-width: 420px; box-shadow: 0 8px 30px rgba(0,0,0,.25); }
  dialog p { white-space: pre-wrap; }
  #status { font-size: 12px; color: #c3d0de; margin-left: auto; white-space: nowrap; overflow: hidden;
            text-overflow: ellipsis; min-width: 0; }
  /* Phones: the side panel folds into a bar (bot picker and a toggle for the rest) above the chat, so the
     messages scroll between it and the message box, which stays at the bottom of the screen. */
  @media (max-width: 720px) {
    header { padding: 6px 12px; gap: 8px; flex-wrap: nowrap; }
    header h1 { font-size: 15px; white-space: nowrap; }
    header .tagline { display: none; }
    header .tagline-short { display: inline; white-space: nowrap; }
    main { flex-direction: column; }
    aside { width: auto; flex: none; max-height: 60vh; max-height: 60dvh; padding: 8px 12px; gap: 10px;
            border-right: 0; border-bottom: 1px solid var(--line); }
    aside h2 { display: none; }
    #botSection { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; }
    #botSelect { flex: 1; width: auto; min-width: 0; }
    #panelToggle { display: inline-block; flex: none; max-width: 45%; overflow: hidden; text-overflow: ellipsis;
                   white-space: nowrap; }
    #botHint { flex-basis: 100%; margin: 0; }
    #botHint:empty { display: none; }
    #botInfo { flex-basis: 100%; }
    aside:not(.open) #botInfo, aside:not(.open) #userSection { display: none; }
    #messages { padding: 10px; }
    .msg { max-width: 88%; }
    #composer { padding: 8px; gap: 6px; }
    #composer input { min-width: 0; }
    #menuList { right: 8px; left: 8px; min-width: 0; }
  }
</style>
</head>
<body>
<header>
  <h1>Fake Telegram</h1>
  <small class="tagline">a local stand-in for trying bots without Telegram; nothing here reaches the real
    service</small>
  <small class="tagline-short">not Telegram</small>
  <span id="status">starting…</span>
</header>
<main>
  <aside id="panel">
    <section id="botSection">
      <h2>Bot</h2>
      <select id="botSelect" aria-label="Bot"></select>
      <button type="button" class="secondary" id="panelToggle" aria-expanded="false"
              aria-controls="userSection"></button>
      <p class="hint" id="botHint"></p>
      <div class="info" id="botInfo"></div>
    </section>
    <section id="userSection">
      <h2>You</h2>
      <form id="userForm" autocomplete="off">
        <label for="userId">User id</label>
        <input id="userId" type="number" min="1" required>
        <label for="firstName">First name</label>
        <input id="firstName" maxlength="64" required>
        <label for="lastName">Last name (optional)</label>
        <input id="lastName" maxlength="64">
        <label for="username">Username (optional)</label>
        <input id="username" maxlength="32" pattern="[A-Za-z][A-Za-z0-9_]{3,31}">
        <label for="languageCode">Language code</label>
        <input id="languageCode" maxlength="35" placeholder="en">
        <p class="error" id="userError"></p>
        <button type="submit">Use this user</button>
        <button type="button" class="secondary" id="resetUser">Sample user</button>
      </form>
      <p class="hint"><a href="accounts" target="_blank">Telegram accounts</a>: users as Telegram accounts, their
        login codes from 777000 and their chats with each other.</p>
    </section>
  </aside>
  <section id="chat">
    <div id="chatWrap">
      <div id="messages"></div>
      <div id="menuList" hidden></div>
    </div>
    <div id="replyKeyboard"></div>
    <form id="composer" autocomplete="off">
      <button type="button" class="secondary" id="menuButton" hidden>Menu</button>
      <a id="miniAppButton" hidden target="_blank" rel="noopener noreferrer"></a>
      <input id="text" placeholder="Write a message…" maxlength="4096" aria-label="Message">
      <button type="submit" id="sendButton">Send</button>
    </form>
  </section>
</main>
<div id="toast" role="status"></div>
<dialog id="alertDialog"><p id="alertText"></p><form method="dialog"><button>OK</button></form></dialog>
<script>
"use strict";
const SAMPLE_USER = {id: 100200300, first_name: "Alice", last_name: "", username: "alice_local",
                     language_code: "en"};
const USER_KEY = "fake-telegram-user";
const BOT_KEY = "fake-telegram-bot";
const $ = (id) => document.getElementById(id);
// Relative to the page, so the fake also works when mounted under a path prefix.
const SERVER_BASE = new URL(".", location.href).href;

let user = loadUser();
let botId = null;
let botState = null;
let messages = [];
let version = -1;
let loop = null;
const hiddenKeyboards = new Set();
// Highest message id rendered so far, to tell new messages from edits and deletions.
let newestId = 0;
// Whether the list shows its newest message; kept through re-renders and size changes (a phone keyboard opening).
let pinned = true;

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function safeUrl(raw) {
  try {
    const url = new URL(raw);
    return ["http:", "https:", "tg:"].includes(url.protocol) ? url.href : null;
  } catch (error) {
    return null;
  }
}

function link(text, raw, extraClass) {
  const href = safeUrl(raw);
  if (!href) return el("span", {class: extraClass || "", title: "link with an unsupported address"}, text);
  return el("a", {href: href, target: "_blank", rel: "noopener noreferrer", class: extraClass || ""}, text);
}

async function api(path, options) {
  const response = await fetch(path, options);
  let body = {};
  try { body = await response.json(); } catch (error) { body = {}; }
  if (!response.ok) throw new Error(body.detail || response.status + " " + response.statusText);
  return body;
}

function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

function setStatus(text) { $("status").textContent = text; }

let toastTimer = null;
function toast(...parts) {
  const box = $("toast");
  box.replaceChildren(...parts);
  box.style.display = "block";
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.style.display = "none"; }, 4000);
}

function showAlert(text) {
  $("alertText").textContent = text;
  $("alertDialog").showModal();
}

/* user */

function loadUser() {
  try {
    const stored = JSON.parse(localStorage.getItem(USER_KEY) || "null");
    if (stored && Number.isInteger(stored.id) && stored.first_name) return stored;
  } catch (error) { /* a broken stored value falls back to the sample user */ }
  return {...SAMPLE_USER};
}

function fillUserForm() {
  $("userId").value = user.id;
  $("firstName").value = user.first_name;
  $("lastName").value = user.last_name || "";
  $("username").value = user.username || "";
  $("languageCode").value = user.language_code || "";
  renderPanelToggle();
}

/* On narrow screens the side panel is a bar; this button unfolds the bot details and the user form. */
function renderPanelToggle() {
  const open = $("panel").classList.contains("open");
  $("panelToggle").textContent = "You: " + user.first_name + (open ? " ▴" : " ▾");
  $("panelToggle").setAttribute("aria-expanded", String(open));
}

function setPanelOpen(open) {
  $("panel").classList.toggle("open", open);
  renderPanelToggle();
}

$("panelToggle").addEventListener("click", () => setPanelOpen(!$("panel").classList.contains("open")));

function userPayload() {
  const payload = {id: user.id, first_name: user.first_name};
  for (const key of ["last_name", "username", "language_code"]) if (user[key]) payload[key] = user[key];
  return payload;
}

$("userForm").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = Number($("userId").value);
  if (!Number.isInteger(id) || id <= 0) { $("userError").textContent = "User id must be a positive integer."; return; }
  user = {id: id, first_name: $("firstName").value.trim(), last_name: $("lastName").value.trim(),
          username: $("username").value.trim(), language_code: $("languageCode").value.trim()};
  if (!user.first_name) { $("userError").textContent = "First name is required."; return; }
  $("userError").textContent = "";
  localStorage.setItem(USER_KEY, JSON.stringify(user));
  setPanelOpen(false);
  restartChat();
});

$("resetUser").addEventListener("click", () => {
  user = {...SAMPLE_USER};
  localStorage.setItem(USER_KEY, JSON.stringify(user));
  fillUserForm();
  setPanelOpen(false);
  restartChat();
});

/* bots */

async function refreshBots() {
  try {
    const data = await api("user-api/bots");
    const select = $("botSelect");
    const ids = data.bots.map((bot) => bot.id);
    const current = [...select.options].map((option) => Number(option.value));
    if (ids.join() !== current.join()) {
      select.replaceChildren(...data.bots.map((bot) =>
        el("option", {value: String(bot.id)}, "@" + bot.username + " (" + bot.id + ")")));
    }
    const wanted = Number(new URLSearchParams(location.search).get("bot") || localStorage.getItem(BOT_KEY));
    if (botId === null && ids.length) selectBot(ids.includes(wanted) ? wanted : ids[0]);
    $("botHint").replaceChildren(ids.length ? "" :
      "No bot has called the API yet. Point the bot at ",
      ids.length ? "" : el("code", {}, SERVER_BASE.slice(0, -1)),
      ids.length ? "" : " (aiogram: TelegramAPIServer.from_base) and start it.");
  } catch (error) {
    setStatus("fake server unreachable: " + error.message);
  }
}

function selectBot(id) {
  botId = id;
  $("botSelect").value = String(id);
  localStorage.setItem(BOT_KEY, String(id));
  restartChat();
}

$("botSelect").addEventListener("change", (event) => selectBot(Number(event.target.value)));

async function refreshBotState() {
  if (botId === null) return;
  try {
    botState = await api("user-api/bots/" + botId + "/state");
    renderBotInfo();
    renderMenu();
  } catch (error) { /* the next refresh tries again */ }
}

function renderBotInfo() {
  const webhook = botState.webhook;
  const rows = [
    el("div", {}, "Username: ", el("code", {}, "@" + botState.bot.username)),
    el("div", {}, "Delivery: ", webhook.url ? el("code", {}, "webhook " + webhook.url) : "getUpdates polling"),
    el("div", {}, "Pending updates: " + botState.pending_update_count),
  ];
  if (webhook.last_error_message) {
    const when = new Date(webhook.last_error_date * 1000).toLocaleTimeString();
    rows.push(el("div", {class: "error"}, "Last webhook error (" + when + "): " + webhook.last_error_message));
  }
  rows.push(el("div", {}, link("Raw state (JSON)", SERVER_BASE + "user-api/bots/" + botId + "/state")));
  $("botInfo").replaceChildren(...rows);
}

function visibleCommands() {
  if (!botState) return [];
  const lang = (user.language_code || "").slice(0, 2).toLowerCase();
  const scopes = [{type: "chat", chat_id: user.id}, {type: "all_private_chats"}, {type: "default"}];
  for (const scope of scopes) {
    for (const code of lang ? [lang, ""] : [""]) {
      const found = botState.commands.find((entry) => entry.language_code === code &&
        entry.scope.type === scope.type && (scope.chat_id === undefined || entry.scope.chat_id === scope.chat_id));
      if (found) return found.commands;
    }
  }
  return [];
}

function renderMenu() {
  const button = botState.menu_button.chats[String(user.id)] || botState.menu_button.default;
  const miniApp = $("miniAppButton");
  const menuButton = $("menuButton");
  const commands = visibleCommands();
  if (button.type === "web_app" && safeUrl(button.web_app.url)) {
    miniApp.hidden = false;
    miniApp.textContent = "Mini App: " + button.text;
    miniApp.href = safeUrl(button.web_app.url);
    menuButton.hidden = true;
  } else {
    miniApp.hidden = true;
    menuButton.hidden = commands.length === 0;
  }
  $("menuList").replaceChildren(...commands.map((command) => el("button", {
    type: "button",
    onclick: () => { $("menuList").hidden = true; sendText("/" + command.command); },
  }, "/" + command.command, el("span", {class: "desc"}, command.description))));
}

$("menuButton").addEventListener("click", () => { $("menuList").hidden = !$("menuList").hidden; });

/* conversation */

function wrapEntity(entity, node, text) {
  switch (entity.type) {
    case "bold": return el("strong", {}, node);
    case "italic": return el("em", {}, node);
    case "underline": return el("u", {}, node);
    case "strikethrough": return el("s", {}, node);
    case "code": return el("code", {}, node);
    case "pre": return el("pre", {}, el("code", {}, node));
    case "blockquote": case "expandable_blockquote": return el("blockquote", {}, node);
    case "text_link": return link(node, entity.url);
    case "url": return link(node, text.slice(entity.offset, entity.offset + entity.length));
    case "spoiler": {
      const span = el("span", {class: "spoiler", title: "spoiler: click to reveal"}, node);
      span.addEventListener("click", () => span.classList.add("shown"));
      return span;
    }
    default: return el("span", {"data-entity": entity.type}, node);
  }
}

function renderText(text, entities) {
  const box = el("div", {class: "text"});
  const cuts = new Set([0, text.length]);
  for (const entity of entities) {
    cuts.add(Math.max(0, entity.offset));
    cuts.add(Math.min(text.length, entity.offset + entity.length));
  }
  const points = [...cuts].sort((a, b) => a - b);
  for (let i = 0; i + 1 < points.length; i++) {
    const start = points[i];
    const end = points[i + 1];
    let node = document.createTextNode(text.slice(start, end));
    const covering = entities.filter((e) => e.offset <= start && e.offset + e.length >= end);
    for (const entity of covering.reverse()) node = wrapEntity(entity, node, text);
    box.append(node);
  }
  return box;
}

function inlineButton(message, button) {
  if (button.callback_data !== undefined) {
    const node = el("button", {type: "button"}, button.text);
    node.addEventListener("click", () => press(message.message_id, button.callback_data, node));
    return node;
  }
  if (button.url !== undefined) return link(button.text + " ↗", button.url);
  if (button.web_app !== undefined) return link("Mini App: " + button.text + " ↗", button.web_app.url);
  if (button.login_url !== undefined) return link(button.text + " ↗", button.login_url.url);
  if (button.copy_text !== undefined) {
    const node = el("button", {type: "button"}, button.text);
    node.addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(button.copy_text.text); toast("Copied to the clipboard."); }
      catch (error) { toast("Could not copy: " + error.message); }
    });
    return node;
  }
  return el("span", {class: "unsupported", title: "this button type is not simulated"}, button.text);
}

function renderMessage(message) {
  const bubble = el("div", {class: message.from_bot ? "msg" : "msg me"});
  if (message.reply_to_message_id !== null) {
    const original = messages.find((m) => m.message_id === message.reply_to_message_id);
    if (original) bubble.append(el("div", {class: "quote"}, original.text.slice(0, 80)));
  }
  bubble.append(renderText(message.text, message.entities || []));
  const markup = message.reply_markup;
  if (markup && Array.isArray(markup.inline_keyboard)) {
    const keyboard = el("div", {class: "keyboard"});
    for (const row of markup.inline_keyboard) {
      keyboard.append(el("div", {class: "row"}, ...row.map((button) => inlineButton(message, button))));
    }
    bubble.append(keyboard);
  }
  const time = new Date(message.date * 1000).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
  bubble.append(el("div", {class: "meta"}, (message.edited ? "edited · " : "") + time + " · #" + message.message_id));
  return bubble;
}

function renderReplyKeyboard() {
  const box = $("replyKeyboard");
  const latest = [...messages].reverse().find((m) => m.from_bot && m.reply_markup &&
    (m.reply_markup.keyboard || m.reply_markup.remove_keyboard));
  if (!latest || !latest.reply_markup.keyboard || hiddenKeyboards.has(latest.message_id)) {
    box.replaceChildren();
    return;
  }
  const markup = latest.reply_markup;
  box.replaceChildren(...markup.keyboard.map((row) => el("div", {class: "row"}, ...row.map((button) => {
    const label = typeof button === "string" ? button : button.text;
    return el("button", {type: "button", onclick: () => {
      if (markup.one_time_keyboard) hiddenKeyboards.add(latest.message_id);
      sendText(label);
    }}, label);
  }))));
  if (markup.input_field_placeholder) $("text").placeholder = markup.input_field_placeholder;
}

function scrollToNewest() {
  const list = $("messages");
  list.scrollTop = list.scrollHeight;
  pinned = true;
}

$("messages").addEventListener("scroll", () => {
  const list = $("messages");
  pinned = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
});
new ResizeObserver(() => { if (pinned) scrollToNewest(); }).observe($("messages"));

function renderMessages() {
  const list = $("messages");
  const newest = messages.reduce((highest, m) => Math.max(highest, m.message_id), 0);
  const arrived = newest > newestId;
  newestId = Math.max(newestId, newest);
  if (messages.length === 0) {
    list.replaceChildren(el("div", {class: "empty"}, botId === null
      ? "Waiting for a bot to call the fake Bot API…"
      : "No messages yet. Say hello, or send /start."));
  } else {
    list.replaceChildren(...messages.map(renderMessage));
  }
  // After the reply keyboard, which takes height from the list. Edits and deletions keep the reader's place.
  renderReplyKeyboard();
  if (arrived || pinned) scrollToNewest();
}

function restartChat() {
  if (loop) loop.abort();
  messages = [];
  version = -1;
  newestId = 0;
  pinned = true;
  hiddenKeyboards.clear();
  $("text").placeholder = "Write a message…";
  renderMessages();
  if (botId === null) return;
  loop = new AbortController();
  pollMessages(loop.signal, botId, user.id);
  refreshBotState();
}

async function pollMessages(signal, forBot, forUser) {
  while (!signal.aborted) {
    try {
      const wait = version < 0 ? 0 : 25;
      const url = "user-api/bots/" + forBot + "/chats/" + forUser + "/messages?after_id=0&since_version=" +
        Math.max(version, 0) + "&wait=" + wait;
      const data = await api(url, {signal: signal});
      if (signal.aborted) return;
      setStatus("connected");
      if (data.version !== version) {
        version = data.version;
        messages = data.messages;
        renderMessages();
        refreshBotState();
      }
    } catch (error) {
      if (signal.aborted) return;
      setStatus("reconnecting… (" + error.message + ")");
      await sleep(1500);
    }
  }
}

async function sendText(text) {
  if (botId === null) { toast("No bot selected yet."); return; }
  if (!text.trim()) return;
  // At once, so the reader sees where the message and the answer will appear; the poll scrolls again on arrival.
  scrollToNewest();
  try {
    await api("user-api/bots/" + botId + "/messages", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({user: userPayload(), text: text}),
    });
  } catch (error) {
    toast("Not sent: " + error.message);
  }
}

async function press(messageId, data, node) {
  node.classList.add("waiting");
  try {
    const sent = await api("user-api/bots/" + botId + "/callbacks", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({user: userPayload(), message_id: messageId, data: data}),
    });
    const url = "user-api/bots/" + botId + "/callback-answers?callback_query_id=" +
      encodeURIComponent(sent.callback_query_id) + "&wait=15";
    const answers = (await api(url)).answers;
    if (answers.length === 0) {
      toast("The bot did not answer the button press (Telegram would keep showing a spinner).");
      return;
    }
    const answer = answers[0];
    if (answer.text && answer.show_alert) showAlert(answer.text);
    else if (answer.text) toast(answer.text);
    if (answer.url) toast("The bot answered with a link: ", link(answer.url, answer.url));
  } catch (error) {
    toast("Button press failed: " + error.message);
  } finally {
    node.classList.remove("waiting");
  }
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("text");
  const text = input.value;
  input.value = "";
  sendText(text);
});

fillUserForm();
renderMessages();
refreshBots();
setInterval(refreshBots, 3000);
setInterval(refreshBotState, 5000);
</script>
</body>
</html>
"""
