// The trainer's composer: the same live reply check as the ticket page (workspace.js's ombudCheck), pointed at
// the training session's check endpoint (nothing is stored). Without JavaScript the form still posts normally.
(function () {
  "use strict";
  const form = document.getElementById("training-form");
  if (!form) return;
  const body = document.getElementById("reply-body");
  const list = document.getElementById("check-findings");
  const grade = document.getElementById("check-grade");
  const sessionId = form.dataset.session;
  const dismissed = new Set();
  let findings = [];
  let timer = null;

  function render() {
    // The ticket page's renderer (workspace.js, loaded first by the workspace layout), each finding tagged.
    window.ombudCheck.renderFindings({
      list,
      body,
      findings,
      dismissed,
      rerender: render,
      decorate: (li, finding) => {
        li.dataset.code = finding.code;
      },
    });
  }

  async function runCheck() {
    const text = body.value;
    if (!text.trim()) {
      findings = [];
      grade.textContent = "";
      render();
      return;
    }
    const url = `/api/v1/training/sessions/${sessionId}/check`;
    const found = await window.ombudCheck.checkReply(url, text, dismissed, grade);
    if (found === null) return;
    findings = found;
    render();
  }

  body.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(runCheck, 600);
  });
})();
