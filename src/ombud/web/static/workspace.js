// The workspace's JavaScript: live inbox updates, keyboard shortcuts, presence on a ticket, and the reply
// assistance (draft, macros, tone, the reply check). Every page works without it: forms post normally.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error((data.error && data.error.message) || response.statusText);
    return data;
  }

  // The live reply check's findings list: a line per finding not dismissed, with its suggestion, any extra of
  // the page's (decorate) and a Dismiss button. Shared with the trainer's composer (training.js).
  function renderFindings({ list, body, findings, dismissed, rerender, decorate }) {
    list.innerHTML = "";
    const shown = findings.filter((f) => !dismissed.has(f.id));
    if (!body.value.trim()) {
      list.innerHTML = '<li class="muted">Start writing; the check runs as you type.</li>';
      return;
    }
    if (!shown.length) {
      const li = document.createElement("li");
      li.className = "ok";
      li.textContent = "Clear and kind: nothing to fix.";
      list.append(li);
      return;
    }
    for (const finding of shown) {
      const li = document.createElement("li");
      li.className = `finding ${finding.severity}`;
      const message = document.createElement("span");
      message.textContent = finding.message;
      li.append(message);
      if (finding.suggestion) {
        const suggestion = document.createElement("span");
        suggestion.className = "suggestion";
        suggestion.textContent = ` Try: “${finding.suggestion}”`;
        li.append(suggestion);
      }
      if (decorate) decorate(li, finding);
      const dismiss = document.createElement("button");
      dismiss.type = "button";
      dismiss.className = "link";
      dismiss.textContent = "Dismiss";
      dismiss.setAttribute("aria-label", `Dismiss: ${finding.message}`);
      dismiss.addEventListener("click", () => {
        dismissed.add(finding.id);
        rerender();
      });
      li.append(dismiss);
      list.append(li);
    }
  }

  // Ask the reply check at ``url`` about ``text``: shows the reading grade in ``grade`` (or why the check is
  // unavailable) and returns the findings, or null when the check failed.
  async function checkReply(url, text, dismissed, grade) {
    try {
      const data = await postJSON(url, { text, dismissed: Array.from(dismissed) });
      grade.textContent = data.grade != null ? `· reading grade ${Number(data.grade).toFixed(1)}` : "";
      return data.findings || [];
    } catch (error) {
      grade.textContent = `· the check is unavailable (${error.message})`;
      return null;
    }
  }
  window.ombudCheck = { renderFindings, checkReply };

  function postForm(url, fields) {
    const form = new FormData();
    form.append("csrf_token", csrf);
    for (const [key, value] of Object.entries(fields)) form.append(key, value);
    return fetch(url, { method: "POST", credentials: "same-origin", body: form });
  }

  function typingInField(event) {
    const tag = (event.target.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || event.target.isContentEditable;
  }

  // -- keyboard shortcuts ---------------------------------------------------------------------------------
  // The list is a modal dialog: focus moves into it, stays there, and goes back where it was on closing.
  const dialog = $("#ws-shortcuts");
  let focusBefore = null;
  function toggleHelp(show) {
    if (!dialog || dialog.hidden === !show) return;
    dialog.hidden = !show;
    if (show) {
      focusBefore = document.activeElement;
      $("button", dialog).focus();
    } else if (focusBefore) {
      focusBefore.focus();
      focusBefore = null;
    }
  }
  dialog?.querySelector("[data-close]")?.addEventListener("click", () => toggleHelp(false));

  const handlers = {};
  // The composer's shared state. Declared here, above the ticket page's block: that block calls
  // setUpComposer, which assigns `check`, and a `let` touched before its line has run is a ReferenceError.
  // REPLACEABLE: findings whose suggestion replaces the matched words (the others suggest an action).
  const REPLACEABLE = new Set(["negative_phrasing", "jargon", "voice_avoid", "wrong_name", "wrong_detail"]);
  let check = () => {};
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      toggleHelp(false);
      if (typingInField(event)) event.target.blur();
      return;
    }
    if (typingInField(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "?") {
      toggleHelp(dialog.hidden);
      event.preventDefault();
      return;
    }
    if (dialog && !dialog.hidden) {
      // Nothing behind the open dialog: Tab stays on its one button, other shortcuts wait.
      if (event.key === "Tab") event.preventDefault();
      return;
    }
    const handler = handlers[event.key];
    if (handler) {
      event.preventDefault();
      handler();
    }
  });

  // -- the inbox ----------------------------------------------------------------------------------------------
  const rowsBody = $("#inbox-rows");
  if (rowsBody) {
    let cursor = -1;
    const rows = () => $$("tr[data-ticket]", rowsBody);
    function select(index) {
      const all = rows();
      if (!all.length) return;
      cursor = Math.max(0, Math.min(all.length - 1, index));
      all.forEach((row, i) => row.classList.toggle("selected", i === cursor));
      $("a", all[cursor]).focus();
    }
    handlers.j = () => select(cursor + 1);
    handlers.k = () => select(cursor - 1);
    handlers.o = () => rows()[cursor] && $("a", rows()[cursor]).click();
    handlers.x = () => {
      const box = rows()[cursor] && $("input[type=checkbox]", rows()[cursor]);
      if (box) box.checked = !box.checked;
    };
    handlers.a = () => {
      const form = $("#bulk");
      if (!$$("input[name=ticket_ids]:checked", form).length && rows()[cursor]) handlers.x();
      if (!$$("input[name=ticket_ids]:checked", form).length) return;
      $("select[name=action]", form).value = "assign_me";
      form.submit();
    };

    // Live updates: ask for the newest message id; when it changes, fetch this view's rows again (unless
    // the agent is in the middle of selecting tickets for a bulk action).
    const live = $("#inbox-live");
    let latest = Number(live?.dataset.latest || 0);
    async function refresh() {
      try {
        const response = await fetch("/agent/inbox/latest", { credentials: "same-origin" });
        if (!response.ok) return;
        const data = await response.json();
        for (const [key, value] of Object.entries(data.counts || {})) {
          const badge = $(`[data-count="${key}"]`);
          if (badge) badge.textContent = value;
        }
        if (data.latest === latest) return;
        latest = data.latest;
        if ($$("input[name=ticket_ids]:checked").length) {
          live.textContent = "New messages arrived; the list refreshes when nothing is selected.";
          return;
        }
        const url = new URL(window.location.href);
        url.searchParams.set("fragment", "1");
        const fragment = await fetch(url, { credentials: "same-origin" });
        if (fragment.ok) {
          rowsBody.innerHTML = await fragment.text();
          cursor = -1;
          live.textContent = "New messages arrived: the list is up to date.";
        }
      } catch (error) {
        /* offline for a moment: try again at the next tick */
      }
    }
    setInterval(refresh, 5000);
  }

  // -- the ticket page ---------------------------------------------------------------------------------------
  const head = $(".ticket-head");
  if (head) {
    const ticketId = head.dataset.ticket;
    const link = (key) => $(`.ticket-nav a[data-key="${key}"]`);
    handlers.j = () => link("j")?.click();
    handlers.k = () => link("k")?.click();
    handlers.u = () => link("u")?.click();
    const body = $("#reply-body");
    const kind = (value) => {
      const radio = $(`input[name=kind][value=${value}]`);
      if (radio) radio.checked = true;
      body?.focus();
      check();
    };
    handlers.r = () => kind("reply");
    handlers.n = () => kind("note");
    handlers.s = () => {
      $("#status-select").value = "solved";
      $("#update-form").submit();
    };
    handlers.a = () => {
      const mine = $$("#assignee-select option").find((o) => o.textContent.endsWith("(me)"));
      if (!mine) return;
      $("#assignee-select").value = mine.value;
      $("#update-form").submit();
    };

    // Presence: a heartbeat every 8 s says this agent is here (and typing, if they typed lately); the
    // answer names the colleagues on the same ticket.
    const presence = $("#presence");
    let lastTyped = 0;
    async function beat() {
      try {
        const response = await postForm(`/agent/tickets/${ticketId}/presence`, {
          typing: Date.now() - lastTyped < 6000 ? "true" : "false",
        });
        if (!response.ok) return;
        const data = await response.json();
        presence.textContent = data.others
          .map((p) => `${p.name} ${p.typing ? "is typing a reply" : "is viewing this ticket"}.`)
          .join(" ");
        presence.classList.toggle("busy", data.others.length > 0);
      } catch (error) {
        /* try again next beat */
      }
    }
    beat();
    setInterval(beat, 8000);
    window.addEventListener("pagehide", () => {
      const form = new FormData();
      form.append("csrf_token", csrf);
      form.append("leaving", "true");
      navigator.sendBeacon(`/agent/tickets/${ticketId}/presence`, form);
    });

    if (body) setUpComposer(ticketId, body, () => {
      const wasIdle = Date.now() - lastTyped > 6000;
      lastTyped = Date.now();
      if (wasIdle) beat();
    });
  }

  // -- the composer: draft, macros, tone, reply check -----------------------------------------------------------
  function setUpComposer(ticketId, body, onType) {
    const findingsList = $("#check-findings");
    const grade = $("#check-grade");
    const form = $("#reply-form");
    const dismissed = new Set();
    let findings = [];
    let warned = false;
    let timer = null;

    function isReply() {
      return $("input[name=kind][value=reply]").checked;
    }

    // A replaceable finding's suggestion can be applied to the reply in one click.
    function addApply(li, finding) {
      if (!finding.suggestion || !REPLACEABLE.has(finding.code)) return;
      if (!finding.excerpt || !body.value.includes(finding.excerpt)) return;
      const apply = document.createElement("button");
      apply.type = "button";
      apply.textContent = "Apply";
      apply.addEventListener("click", () => {
        body.value = body.value.replace(finding.excerpt, finding.suggestion);
        scheduleCheck(0);
      });
      li.append(apply);
    }

    function render() {
      renderFindings({ list: findingsList, body, findings, dismissed, rerender: render, decorate: addApply });
    }

    async function runCheck() {
      const text = body.value;
      if (!text.trim() || !isReply()) {
        findings = [];
        grade.textContent = "";
        render();
        return;
      }
      const found = await checkReply(`/api/v1/tickets/${ticketId}/check`, text, dismissed, grade);
      if (found === null) return;
      findings = found;
      render();
    }
    function scheduleCheck(delay) {
      clearTimeout(timer);
      timer = setTimeout(runCheck, delay);
    }
    check = () => scheduleCheck(0);

    body.addEventListener("input", () => {
      warned = false;
      onType();
      scheduleCheck(600);
    });
    $$("input[name=kind]").forEach((radio) => radio.addEventListener("change", () => scheduleCheck(0)));

    form.addEventListener("submit", async (event) => {
      if (!isReply() || warned) return;
      event.preventDefault();
      await runCheck();
      const open = findings.filter((f) => !dismissed.has(f.id) && f.severity === "warning");
      if (!open.length) {
        form.submit();
        return;
      }
      warned = true;
      const note = document.createElement("li");
      note.className = "finding warning";
      note.setAttribute("role", "alert");
      note.textContent = `The check found ${open.length} thing${open.length > 1 ? "s" : ""} to look at. Fix or dismiss them, or press Send again to send as it is.`;
      findingsList.prepend(note);
    });

    $("#draft-btn")?.addEventListener("click", async (event) => {
      const button = event.currentTarget;
      if (body.value.trim() && !window.confirm("Replace what you wrote with a drafted reply?")) return;
      button.disabled = true;
      try {
        const draft = await postJSON(`/api/v1/tickets/${ticketId}/draft`, {});
        body.value = draft.text;
        $("input[name=kind][value=reply]").checked = true;
        body.focus();
        scheduleCheck(0);
      } catch (error) {
        window.alert(`No draft: ${error.message}`);
      } finally {
        button.disabled = false;
      }
    });

    $("#macro-select")?.addEventListener("change", async (event) => {
      const macroId = event.target.value;
      if (!macroId) return;
      const response = await fetch(`/agent/tickets/${ticketId}/macros/${macroId}`, { credentials: "same-origin" });
      if (!response.ok) return;
      const macro = await response.json();
      const start = body.selectionStart ?? body.value.length;
      body.value = body.value.slice(0, start) + macro.text + body.value.slice(body.selectionEnd ?? start);
      $("#macro-id").value = macro.id;
      event.target.value = "";
      body.focus();
      scheduleCheck(0);
    });

    $$("[data-tone]").forEach((button) =>
      button.addEventListener("click", async () => {
        if (!body.value.trim()) return;
        button.disabled = true;
        try {
          const rewritten = await postJSON("/api/v1/assist/rewrite", { text: body.value, tone: button.dataset.tone });
          body.value = rewritten.text;
          scheduleCheck(0);
        } catch (error) {
          window.alert(`No rewrite: ${error.message}`);
        } finally {
          button.disabled = false;
        }
      })
    );
  }
})();
