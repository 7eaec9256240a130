// The console's own small script: live updates by server-sent events, signals (the
// tab title's count, a sound and a notification), the reply box (canned answers and
// snippets at the cursor, Ctrl+Enter, a draft kept in this browser, a box that grows)
// and a language switch that submits itself.
// No inline script anywhere (the CSP forbids it); server HTML is already escaped.
"use strict";

// A form being submitted must not be cancelled by a live reload.
let submitting = false;
document.addEventListener("submit", () => {
  submitting = true;
});

// --- Signals: urgent conversations waiting, and unread replies in mine -------------

const SIGNALS_KEY = "helpline:signals";
const baseTitle = document.title.replace(/^\(\d+\) /, "");
let audio = null;

function beep() {
  // A short tone; browsers allow it once the page had a click (the notification
  // button, or any button on the page), and stay silent otherwise.
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
    const tone = audio.createOscillator();
    const volume = audio.createGain();
    tone.frequency.value = 880;
    volume.gain.setValueAtTime(0.2, audio.currentTime);
    volume.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    tone.connect(volume).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.6);
  } catch (error) {
    // No sound is not worth an error: the title and the notification remain.
  }
}

function alertStaff(message, conversationId) {
  const body = document.body;
  body.dataset.alerts = String(Number(body.dataset.alerts || "0") + 1);
  body.dataset.lastAlert = message;
  beep();
  if ("Notification" in window && Notification.permission === "granted") {
    const note = new Notification(baseTitle, { body: message, tag: `helpline-${conversationId}` });
    note.addEventListener("click", () => {
      window.focus();
      window.location.href = `/console/conversations/${conversationId}`;
    });
  }
}

function handleSignals(data) {
  const now = JSON.parse(data);
  const count = now.urgent.length + now.mine.length;
  document.title = count ? `(${count}) ${baseTitle}` : baseTitle;
  document.body.dataset.signalCount = String(count);
  let before = null;
  try {
    before = JSON.parse(sessionStorage.getItem(SIGNALS_KEY) || "null");
  } catch (error) {
    before = null;
  }
  sessionStorage.setItem(SIGNALS_KEY, data);
  if (!before) return; // the first look in this tab: counted, not announced
  const urgent = now.urgent.filter((id) => !before.urgent.includes(id));
  const replies = now.mine.filter((id) => !before.mine.includes(id));
  if (urgent.length) alertStaff(document.body.dataset.signalUrgent || "", urgent[0]);
  else if (replies.length) alertStaff(document.body.dataset.signalReply || "", replies[0]);
}

function notificationButton() {
  const button = document.getElementById("notify-permission");
  if (!button || !("Notification" in window)) return;
  button.hidden = Notification.permission !== "default";
  button.addEventListener("click", () => {
    beep(); // the click also lets the page play the sound later
    Notification.requestPermission().then(() => {
      button.hidden = Notification.permission !== "default";
    });
  });
}

// --- Live regions -----------------------------------------------------------------

function transcriptBox() {
  return document.getElementById("transcript");
}

function scrollTranscriptToEnd() {
  const box = transcriptBox();
  if (box) box.scrollTop = box.scrollHeight;
}

function liveRegion(element) {
  const url = element.dataset.live;
  const eventName = element.dataset.event;
  const status = document.getElementById("live-status");
  const source = new EventSource(url);
  source.addEventListener(eventName, (event) => {
    const box = transcriptBox();
    const atEnd = box && box.scrollTop + box.clientHeight >= box.scrollHeight - 40;
    element.innerHTML = event.data;
    element.dataset.updated = String(Date.now());
    if (eventName === "transcript") {
      if (atEnd) scrollTranscriptToEnd();
      unansweredWarning();
    }
    document.dispatchEvent(new CustomEvent("console:updated", { detail: eventName }));
  });
  source.addEventListener("signals", (event) => handleSignals(event.data));
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

function signalsOnly(url) {
  const source = new EventSource(url);
  source.addEventListener("signals", (event) => handleSignals(event.data));
}

// The person's last message has no staff answer after it: warn at closing.
function unansweredWarning() {
  const warning = document.querySelector("form.close .unanswered");
  if (!warning) return;
  const messages = document.querySelectorAll("#transcript .msg-in, #transcript .msg-out.sender-staff");
  const last = messages[messages.length - 1];
  warning.hidden = !(last && last.classList.contains("msg-in"));
}

// --- The reply box ----------------------------------------------------------------

function insertAtCursor(box, text) {
  // Inserted where the cursor is (after a selection: it replaces nothing), with a
  // line break on each side when it lands inside other text.
  const at = box.selectionEnd;
  const before = box.value.slice(0, at);
  const after = box.value.slice(at);
  const lead = before && !before.endsWith("\n") ? "\n" : "";
  const tail = after && !after.startsWith("\n") ? "\n" : "";
  box.focus();
  box.setRangeText(lead + text + tail, at, at, "end");
  box.selectionStart = box.selectionEnd = at + lead.length + text.length;
  box.dispatchEvent(new Event("input", { bubbles: true }));
}

function grow(box) {
  box.style.height = "auto";
  box.style.height = `${Math.min(box.scrollHeight + 2, window.innerHeight * 0.6)}px`;
}

function replyBox() {
  const form = document.querySelector("form.reply");
  const reply = document.getElementById("reply-text");
  const topic = document.getElementById("reply-topic");
  if (!form || !reply) return;
  const key = form.dataset.draft;

  function save() {
    if (!key) return;
    if (reply.value) {
      localStorage.setItem(key, JSON.stringify({ text: reply.value, topic: topic ? topic.value : "" }));
    } else {
      localStorage.removeItem(key);
    }
  }

  if (key && form.dataset.sent) {
    localStorage.removeItem(key); // sent: the draft is done
  } else if (key && !reply.value) {
    try {
      const draft = JSON.parse(localStorage.getItem(key) || "null");
      if (draft && draft.text) {
        reply.value = draft.text;
        if (topic) topic.value = draft.topic || "";
      }
    } catch (error) {
      localStorage.removeItem(key);
    }
  }

  document.querySelectorAll("button.use-canned, button.use-snippet").forEach((button) => {
    button.addEventListener("click", () => {
      insertAtCursor(reply, button.dataset.text);
      if (topic && button.dataset.topic) topic.value = button.dataset.topic;
      save();
    });
  });
  reply.addEventListener("input", () => {
    if (topic && topic.value) {
      // The canned answer's topic stays only while its text is still in the draft.
      const used = document.querySelector(`button.use-canned[data-topic="${CSS.escape(topic.value)}"]`);
      if (used && !reply.value.includes(used.dataset.text)) topic.value = "";
    }
    grow(reply);
    save();
  });
  reply.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (reply.value.trim()) form.requestSubmit();
    }
  });
  if (reply.value) grow(reply);
}

function cannedFilter() {
  const filter = document.getElementById("canned-filter");
  if (!filter) return;
  filter.addEventListener("input", () => {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    document.querySelectorAll("details.canned").forEach((item) => {
      const haystack = item.dataset.search || "";
      item.hidden = !words.every((word) => haystack.includes(word));
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const regions = document.querySelectorAll("[data-live]");
  regions.forEach(liveRegion);
  if (!regions.length && document.body.dataset.signals) signalsOnly(document.body.dataset.signals);
  notificationButton();
  replyBox();
  cannedFilter();
  document.querySelectorAll("select.autosubmit").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
  document.querySelectorAll(".js-hidden").forEach((element) => {
    element.hidden = true;
  });
  // The page opens at its top (the header and its actions); the transcript, in its
  // own scrolling box, opens at its newest message.
  scrollTranscriptToEnd();
});
