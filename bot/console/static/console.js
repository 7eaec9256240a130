// The console's own small script: live updates by server-sent events, canned
// answers into the reply box, and a language switch that submits itself.
// No inline script anywhere (the CSP forbids it); server HTML is already escaped.
"use strict";

// A form being submitted must not be cancelled by a live reload.
let submitting = false;
document.addEventListener("submit", () => {
  submitting = true;
});

function liveRegion(element) {
  const url = element.dataset.live;
  const eventName = element.dataset.event;
  const status = document.getElementById("live-status");
  const source = new EventSource(url);
  source.addEventListener(eventName, (event) => {
    const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    element.innerHTML = event.data;
    element.dataset.updated = String(Date.now());
    if (eventName === "transcript" && atBottom) {
      window.scrollTo(0, document.body.scrollHeight);
    }
    document.dispatchEvent(new CustomEvent("console:updated", { detail: eventName }));
  });
  source.addEventListener("state", (event) => {
    const page = document.querySelector(".conversation-page");
    if (!page || page.dataset.state === event.data) {
      return;
    }
    const reply = document.getElementById("reply-text");
    if (submitting) {
      return;
    }
    if (!reply || reply.value.trim() === "") {
      window.location.reload();
    } else {
      document.getElementById("live-banner").hidden = false;
    }
  });
  source.addEventListener("open", () => {
    document.body.dataset.live = "connected";
    if (status) status.textContent = "";
  });
  source.addEventListener("error", () => {
    document.body.dataset.live = "reconnecting";
    if (status) status.textContent = status.dataset.offline || "";
  });
}

function cannedAnswers() {
  const reply = document.getElementById("reply-text");
  const topic = document.getElementById("reply-topic");
  document.querySelectorAll("button.use-canned").forEach((button) => {
    button.addEventListener("click", () => {
      if (!reply) return;
      reply.value = button.dataset.text;
      if (topic) topic.value = button.dataset.topic;
      reply.focus();
    });
  });
  if (reply && topic) {
    reply.addEventListener("input", () => {
      // Edited by hand: no longer exactly the canned answer.
      const used = document.querySelector(`button.use-canned[data-topic="${CSS.escape(topic.value)}"]`);
      if (used && used.dataset.text !== reply.value) topic.value = "";
    });
  }
  const filter = document.getElementById("canned-filter");
  if (filter) {
    filter.addEventListener("input", () => {
      const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      document.querySelectorAll("details.canned").forEach((item) => {
        const haystack = item.dataset.search || "";
        item.hidden = !words.every((word) => haystack.includes(word));
      });
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-live]").forEach(liveRegion);
  cannedAnswers();
  document.querySelectorAll("select.autosubmit").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
  document.querySelectorAll(".js-hidden").forEach((element) => {
    element.hidden = true;
  });
  const transcript = document.getElementById("transcript");
  if (transcript) window.scrollTo(0, document.body.scrollHeight);
});
