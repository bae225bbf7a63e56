// Reveal a shielded message in place: the same audited reveal the form posts (recorded before the text
// comes back), without reloading the page. Without JavaScript the form posts and the page is re-rendered.
(() => {
  "use strict";
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("reveal")) return;
    const match = form.action.match(/\/agent\/tickets\/(\d+)\/messages\/(\d+)\/reveal$/);
    const token = form.querySelector('input[name="csrf_token"]');
    if (!match || !token) return;
    event.preventDefault();
    const shield = form.closest(".shielded");
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    try {
      const response = await fetch(`/api/v1/tickets/${match[1]}/messages/${match[2]}/reveal`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": token.value, Accept: "application/json" },
      });
      if (!response.ok) throw new Error(String(response.status));
      const message = await response.json();
      const body = document.createElement("div");
      body.className = "body";
      body.textContent = message.body;
      const note = document.createElement("p");
      note.className = "muted small";
      note.setAttribute("role", "status");
      note.textContent = "Shown on request; your reading is recorded. Reload the page to hide it again.";
      shield.replaceWith(note, body);
      body.tabIndex = -1;
      body.focus();
    } catch (error) {
      form.submit(); // the server-rendered way still works
    }
  });
})();
