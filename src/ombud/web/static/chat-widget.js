/* ombud chat widget: embed with <script src="https://YOUR-OMBUD/chat/widget.js" async></script>.
   No dependencies, no CDN. Talks to ombud over a WebSocket and falls back to HTTP long polling when
   WebSockets are blocked. The visitor's token lives in localStorage, so the conversation survives a
   reload. Protocol: docs/channels.md ("Live chat").
   When the desk has published help articles, the visitor's first lines go to the self-service assistant
   (POST /chat/api/assistant) until it hands over or the visitor asks for a person; from then on the
   widget is the usual chat with people. */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(script ? script.src : "/chat/widget.js", window.location.href);
  var origin = base.origin;
  var KEY = "ombud-chat:" + origin;
  var state = {
    token: null, ws: null, mode: "off", lastId: 0, ticketId: null, readUpTo: 0, agentsOnline: 0, byEmail: false,
    pending: {}, shown: {}, typingTimer: null, polling: false, pollAbort: null, retries: 0, open: false,
    assistant: false, person: false, greeted: false, asking: false
  };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  var css = el("link", { rel: "stylesheet", href: origin + "/chat/widget.css" });
  document.head.appendChild(css);
  var root = el("div", { class: "ombud-chat", "data-state": "closed" });
  var button = el("button", { class: "ombud-chat-open", type: "button", "aria-label": "Chat with us" }, "Chat with us");
  var panel = el("section", { class: "ombud-chat-panel", "aria-label": "Chat", hidden: "" });
  var header = el("header", { class: "ombud-chat-header" });
  var title = el("span", { class: "ombud-chat-title" }, "Support");
  var status = el("span", { class: "ombud-chat-status" }, "");
  var close = el("button", { class: "ombud-chat-close", type: "button", "aria-label": "Close chat" }, "×");
  header.append(title, status, close);
  var log = el("ol", { class: "ombud-chat-log", "aria-live": "polite" });
  var typing = el("p", { class: "ombud-chat-typing", hidden: "" }, "Support is typing…");
  var away = el("form", { class: "ombud-chat-away", hidden: "" });
  away.append(
    el("p", {}, "Nobody is available right now. Leave your email address and we will answer there."),
    el("input", { type: "email", name: "email", required: "", placeholder: "you@example.com", "aria-label": "Email address" }),
    el("button", { type: "submit" }, "Continue by email")
  );
  var form = el("form", { class: "ombud-chat-form" });
  var input = el("textarea", { rows: "2", maxlength: "5000", placeholder: "Write a message…", "aria-label": "Message" });
  var send = el("button", { type: "submit" }, "Send");
  form.append(input, send);
  panel.append(header, log, typing, away, form);
  root.append(button, panel);
  // Embedded in <head> (not async, or loaded from cache), the script runs before there is a body.
  function mount() { document.body.appendChild(root); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  function api(path, options) {
    options = options || {};
    options.headers = Object.assign({ "Content-Type": "application/json" }, options.headers || {});
    if (state.token) options.headers["X-Chat-Token"] = state.token;
    return fetch(origin + path, options).then(function (response) {
      if (response.status === 204) return null;
      return response.json().then(function (body) {
        if (!response.ok) throw Object.assign(new Error(body.error ? body.error.message : "error"), { status: response.status, body: body });
        return body;
      });
    });
  }

  function newId() {
    return (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
  }

  function tick(item) {
    var mark = item.querySelector(".ombud-chat-state");
    if (!mark) return;
    var id = Number(item.getAttribute("data-id") || 0);
    var st = item.getAttribute("data-state");
    if (id && id <= state.readUpTo) st = "read";
    item.setAttribute("data-state", st);
    mark.textContent = st === "sending" ? "Sending…" : st === "failed" ? "Not sent" : st === "read" ? "Read" : "Delivered";
  }

  function show(message, stateName) {
    if (message.id && state.shown[message.id]) return state.shown[message.id];
    var item = message.client_id && state.pending[message.client_id];
    if (!item && message.kind === "transcript") {
      // The conversation with the assistant, as the team received it: folded, the widget showed it already.
      item = el("li", { class: "ombud-chat-note" });
      var fold = el("details", {});
      fold.append(el("summary", {}, "Sent to our team: your conversation with the assistant"),
        el("span", { class: "ombud-chat-body" }, message.body));
      item.append(fold);
      log.appendChild(item);
    }
    if (!item) {
      item = el("li", { class: "ombud-chat-" + message.author });
      item.append(el("span", { class: "ombud-chat-body" }, message.body));
      if (message.author === "customer") item.append(el("span", { class: "ombud-chat-state" }));
      log.appendChild(item);
    }
    if (message.ticket_id) state.ticketId = message.ticket_id;
    if (message.id) {
      item.setAttribute("data-id", String(message.id));
      state.shown[message.id] = item;
      state.lastId = Math.max(state.lastId, message.id);
      if (message.client_id) delete state.pending[message.client_id];
    }
    item.setAttribute("data-state", stateName || "delivered");
    tick(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  function presence() {
    var bot = withAssistant();
    var nobody = state.agentsOnline === 0 && !state.byEmail && !bot;
    status.textContent = bot ? "Assistant" : state.byEmail ? "We will answer by email" : state.agentsOnline > 0 ? "Online" : "Away";
    away.hidden = !nobody;
    root.setAttribute("data-agents", String(state.agentsOnline));
    root.setAttribute("data-mode", bot ? "assistant" : "people");
    if (bot) greet();
  }

  // -- the self-service assistant: answers from help articles until a person takes over ----------------
  function withAssistant() { return state.assistant && !state.person && !state.ticketId; }

  function clearActions() {
    Array.prototype.forEach.call(log.querySelectorAll(".ombud-chat-actions"), function (n) { n.remove(); });
  }

  function actions(solved) {
    var box = el("div", { class: "ombud-chat-actions" });
    if (solved) {
      var yes = el("button", { type: "button" }, "That solved it");
      yes.addEventListener("click", function () { outcome(true); });
      box.append(yes);
    }
    var person = el("button", { type: "button" }, "Talk to a person");
    person.addEventListener("click", toPerson);
    box.append(person);
    return box;
  }

  function botLine(text, articles, buttons) {
    clearActions();
    var item = el("li", { class: "ombud-chat-bot" });
    item.append(el("span", { class: "ombud-chat-author" }, "Assistant"), el("span", { class: "ombud-chat-body" }, text));
    if (articles && articles.length) {
      var sources = el("p", { class: "ombud-chat-sources" });
      sources.append(el("span", {}, articles.length > 1 ? "Help articles: " : "Help article: "));
      articles.forEach(function (a, n) {
        if (n) sources.append(document.createTextNode(" · "));
        sources.append(el("a", { href: origin + a.url, target: "_blank", rel: "noopener" }, a.title));
      });
      item.append(sources);
    }
    if (buttons) item.append(actions(buttons === "answer"));
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  function greet() {
    if (state.greeted || log.children.length) return;
    state.greeted = true;
    botLine("Hi! I'm the assistant. Ask me a question and I'll look in our help articles for the answer. "
      + "You can talk to a person at any time.", [], "person");
  }

  function thinking(on) {
    state.asking = on;
    typing.textContent = on ? "The assistant is looking…" : "Support is typing…";
    typing.hidden = !on;
    send.disabled = on;
  }

  function answered(reply) {
    thinking(false);
    if (reply.handover) return handedOver(reply);
    botLine(reply.answer, reply.articles, reply.articles.length ? "answer" : "person");
  }

  function handedOver(reply) {
    clearActions();
    botLine(reply.answer, [], null);
    if (reply.message) show(reply.message);
    if (reply.ticket_id) state.ticketId = reply.ticket_id;
    else {
      state.person = true;
      try { localStorage.setItem(KEY + ":person", "1"); } catch (e) { /* private mode */ }
    }
    // The connection listens to the conversation as it was: listen again, now to the ticket (agents'
    // typing, read marks), and let agents see the visitor typing.
    if (state.ws) state.ws.close();
    else if (state.pollAbort) state.pollAbort.abort();
    presence();
  }

  function failed(item, err) {
    thinking(false);
    if (item) {
      item.setAttribute("data-state", "failed");
      var mark = item.querySelector(".ombud-chat-state");
      if (mark) mark.textContent = "Not sent";
    }
    var retry = err && err.status === 429 ? "Please wait a moment before asking again." : "Sorry, something went wrong. Please try again.";
    botLine(retry, [], "person");
  }

  function ask(text) {
    var item = el("li", { class: "ombud-chat-customer", "data-state": "delivered" });
    item.append(el("span", { class: "ombud-chat-body" }, text));
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    thinking(true);
    api("/chat/api/assistant", { method: "POST", body: JSON.stringify({ text: text, client_id: newId() }) })
      .then(answered, function (err) { failed(item, err); });
  }

  function outcome(resolved) {
    clearActions();
    api("/chat/api/assistant/outcome", { method: "POST", body: JSON.stringify({ resolved: resolved }) })
      .then(function (reply) {
        if (reply.handover) return handedOver(reply);
        botLine(resolved ? "Glad that helped! If there is anything else, just ask." : reply.answer, [], "person");
      }, function (err) { failed(null, err); });
  }

  function toPerson() {
    clearActions();
    thinking(true);
    api("/chat/api/assistant/person", { method: "POST", body: "{}" }).then(function (reply) {
      thinking(false);
      handedOver(reply);
    }, function (err) { failed(null, err); });
  }

  function apply(conversation) {
    (conversation.messages || []).forEach(function (m) { show(m); });
    if (typeof conversation.read_up_to === "number") state.readUpTo = Math.max(state.readUpTo, conversation.read_up_to);
    if (typeof conversation.agents_online === "number") state.agentsOnline = conversation.agents_online;
    if (typeof conversation.by_email === "boolean") state.byEmail = conversation.by_email;
    if (typeof conversation.assistant === "boolean") state.assistant = conversation.assistant;
    (conversation.events || []).forEach(handle);
    Array.prototype.forEach.call(log.children, tick);
    presence();
  }

  function handle(event) {
    if (event.type === "message") { show(event); if (!state.asking) typing.hidden = true; }
    else if (event.type === "ack") show(event.message, "delivered");
    else if (event.type === "typing" && event.who === "agent" && !state.asking) {
      typing.hidden = !event.typing;
      clearTimeout(state.typingTimer);
      if (event.typing) state.typingTimer = setTimeout(function () { typing.hidden = true; }, 8000);
    }
    else if (event.type === "read") { state.readUpTo = Math.max(state.readUpTo, event.up_to); Array.prototype.forEach.call(log.children, tick); }
    else if (event.type === "presence") { state.agentsOnline = event.agents_online; presence(); }
    else if (event.type === "welcome") apply(event);
    else if (event.type === "error" && event.client_id && state.pending[event.client_id]) {
      state.pending[event.client_id].setAttribute("data-state", "failed"); tick(state.pending[event.client_id]);
    }
  }

  function connect() {
    if (!("WebSocket" in window) || state.retries >= 3) return poll();
    var ws = new WebSocket(origin.replace(/^http/, "ws") + "/chat/ws");
    var opened = false;
    ws.onopen = function () { opened = true; state.retries = 0; ws.send(JSON.stringify({ type: "hello", token: state.token })); };
    ws.onmessage = function (e) {
      var event = JSON.parse(e.data);
      if (event.type === "welcome") { state.ws = ws; state.mode = "ws"; flush(); }
      if (event.type === "error" && event.code === "chat_token_invalid") { localStorage.removeItem(KEY); state.token = null; ws.close(); return; }
      handle(event);
    };
    ws.onclose = function () {
      state.ws = null;
      if (!state.token) return begin();
      state.retries += opened ? 0 : 1;
      state.mode = "off";
      setTimeout(connect, opened ? 1000 : 500 * state.retries);
    };
  }

  function poll() {
    state.mode = "http";
    if (state.polling) return;
    state.polling = true;
    (function loop() {
      var abort = window.AbortController ? new AbortController() : null;
      state.pollAbort = abort;
      api("/chat/api/conversation?wait=25&after=" + state.lastId + "&agents=" + state.agentsOnline + "&read=" + state.readUpTo, { signal: abort ? abort.signal : undefined })
        .then(function (c) { apply(c); loop(); },
          function (err) { if (err.name === "AbortError") loop(); else setTimeout(loop, 3000); });
    })();
    flush();
  }

  function transmit(text, clientId) {
    if (state.mode === "ws" && state.ws) {
      state.ws.send(JSON.stringify({ type: "message", text: text, client_id: clientId }));
    } else if (state.mode === "http") {
      api("/chat/api/messages", { method: "POST", body: JSON.stringify({ text: text, client_id: clientId }) })
        .then(function (m) {
          var opened = m.ticket_id !== state.ticketId;
          show(m, "delivered");
          // The long poll in flight listens to the conversation as it was when it started: the first line
          // (or a new ticket) opened one it cannot hear, so its replies would wait for the poll's timeout.
          if (opened && state.pollAbort) state.pollAbort.abort();
        }, function () { var i = state.pending[clientId]; if (i) { i.setAttribute("data-state", "failed"); tick(i); } });
    }
  }

  function flush() {
    Object.keys(state.pending).forEach(function (clientId) {
      var item = state.pending[clientId];
      transmit(item.querySelector(".ombud-chat-body").textContent, clientId);
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    if (withAssistant()) { if (!state.asking) ask(text); else input.value = text; return; }
    var clientId = newId();
    var item = show({ author: "customer", body: text, client_id: clientId }, "sending");
    state.pending[clientId] = item;
    transmit(text, clientId);
    sendTyping(false);
  });
  input.addEventListener("keydown", function (e) {
    // Not while an input method composes (Chinese, Japanese, Korean): there Enter picks the characters.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  var typingSent = false;
  function sendTyping(on) {
    if (on === typingSent) return;
    typingSent = on;
    if (state.mode === "ws" && state.ws) state.ws.send(JSON.stringify({ type: "typing", typing: on }));
    else if (state.mode === "http") api("/chat/api/typing", { method: "POST", body: JSON.stringify({ typing: on }) }).catch(function () {});
  }
  input.addEventListener("input", function () { sendTyping(input.value.length > 0); });
  away.addEventListener("submit", function (e) {
    e.preventDefault();
    api("/chat/api/email", { method: "POST", body: JSON.stringify({ email: away.elements.email.value }) }).then(apply,
      function (err) { away.querySelector("p").textContent = err.message; });
  });

  function toggle(open) {
    state.open = open;
    panel.hidden = !open;
    button.hidden = open;
    root.setAttribute("data-state", open ? "open" : "closed");
    try { localStorage.setItem(KEY + ":open", open ? "1" : ""); } catch (e) { /* private mode */ }
    if (open && !state.token) begin();
    if (open) input.focus();
  }
  button.addEventListener("click", function () { toggle(true); });
  close.addEventListener("click", function () { toggle(false); });

  function begin() {
    api("/chat/api/visitors", { method: "POST", body: "{}" }).then(function (v) {
      state.token = v.token;
      state.person = false;
      try { localStorage.setItem(KEY, v.token); localStorage.removeItem(KEY + ":person"); } catch (e) { /* private mode: this page only */ }
      state.agentsOnline = v.agents_online;
      state.assistant = !!v.assistant;
      presence();
      connect();
    });
  }

  try { state.token = localStorage.getItem(KEY); } catch (e) { state.token = null; }
  try { state.person = !!(state.token && localStorage.getItem(KEY + ":person")); } catch (e) { /* ignore */ }
  if (state.token) connect();
  var wasOpen = false;
  try { wasOpen = !!localStorage.getItem(KEY + ":open"); } catch (e) { /* ignore */ }
  toggle(wasOpen);
  window.ombudChat = { open: function () { toggle(true); }, close: function () { toggle(false); }, state: state };
})();
