// Translation help (only on pages where HELPLINE_TRANSLATE_URL is set): a person's
// message shown in the staff member's language beside the original, and a draft put
// into the person's language in the reply box, for review. Nothing here sends a reply.
"use strict";

(() => {
  const shown = new Map(); // message id -> translated text, kept across live updates

  function csrfToken() {
    const field = document.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  async function post(url, fields) {
    const body = new URLSearchParams(fields || {});
    const response = await fetch(url, {
      method: "POST",
      headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
      body,
      credentials: "same-origin",
    });
    let data = {};
    try {
      data = await response.json();
    } catch (error) {
      data = {};
    }
    if (!response.ok || typeof data.translation !== "string") {
      throw new Error(data.error || response.statusText || "error");
    }
    return data.translation;
  }

  function show(help, text, failed) {
    const box = help.querySelector(".translation");
    const out = help.querySelector(".translated");
    box.hidden = false;
    box.classList.toggle("error", failed);
    box.setAttribute("role", failed ? "alert" : "status");
    out.textContent = text;
  }

  function restore() {
    document.querySelectorAll("button.translate-message").forEach((button) => {
      const text = shown.get(button.dataset.message);
      if (text !== undefined) show(button.closest(".translation-help"), text, false);
    });
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button.translate-message");
    if (!button) return;
    const help = button.closest(".translation-help");
    button.disabled = true;
    try {
      const text = await post(button.dataset.url);
      shown.set(button.dataset.message, text);
      show(help, text, false);
    } catch (error) {
      show(help, error.message, true);
    } finally {
      button.disabled = false;
    }
  });

  document.addEventListener("console:updated", (event) => {
    if (event.detail === "transcript") restore();
  });

  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("translate-draft");
    const reply = document.getElementById("reply-text");
    if (!button || !reply) return;
    const panel = document.getElementById("draft-translation");
    const original = panel.querySelector(".draft-original");
    const status = document.getElementById("translate-status");
    button.addEventListener("click", async () => {
      const draft = reply.value.trim();
      status.hidden = true;
      if (!draft) {
        reply.focus();
        return;
      }
      button.disabled = true;
      try {
        const text = await post(button.dataset.url, { text: draft });
        original.textContent = draft;
        panel.hidden = false;
        reply.value = text;
        reply.dispatchEvent(new Event("input", { bubbles: true }));
        reply.focus();
      } catch (error) {
        status.textContent = error.message;
        status.hidden = false;
      } finally {
        button.disabled = false;
      }
    });
  });
})();
