// The /try page: send what the person writes or presses, poll for new messages.
// Every text is put in the page with textContent, never as HTML.
(function () {
  "use strict";
  const chat = document.getElementById("chat");
  const transcript = document.getElementById("transcript");
  const composer = document.getElementById("composer");
  const input = document.getElementById("text");
  const messagesUrl = chat.dataset.messagesUrl;
  let after = Number(chat.dataset.after || 0);
  let polling = false;

  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return Date.now().toString(16) + "-" + Math.random().toString(16).slice(2);
  }

  function render(message) {
    const item = document.createElement("li");
    item.className = "message " + message.side;
    item.dataset.id = message.id;
    const text = document.createElement("p");
    text.dir = "auto";
    text.textContent = message.text;
    item.appendChild(text);
    if (message.buttons && message.buttons.length) {
      const buttons = document.createElement("div");
      buttons.className = "buttons";
      for (const button of message.buttons) {
        const element = document.createElement("button");
        element.type = "button";
        element.dir = "auto";
        element.dataset.payload = button.payload;
        element.textContent = button.title;
        buttons.appendChild(element);
      }
      item.appendChild(buttons);
    }
    transcript.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  const notice = document.getElementById("notice");

  // A message that could not be sent is said so, in the page's language (the
  // server's reason when it gives one), and what was written goes back in the box.
  function showFailure(reason, text) {
    notice.textContent = reason || notice.dataset.sendFailed;
    notice.hidden = false;
    if (text && !input.value) input.value = text;
  }

  async function failureReason(response) {
    try {
      const data = await response.json();
      return typeof data.detail === "string" ? data.detail : "";
    } catch (error) {
      return "";
    }
  }

  async function post(body) {
    let response;
    try {
      response = await fetch(messagesUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify(Object.assign({ id: newId() }, body)),
      });
    } catch (error) {
      showFailure("", body.text);
      return;
    }
    if (!response.ok) {
      showFailure(response.status === 429 ? await failureReason(response) : "", body.text);
      return;
    }
    notice.hidden = true;
    poll();
  }

  async function poll() {
    if (polling) return;
    polling = true;
    try {
      const response = await fetch(messagesUrl + "?after=" + after, { credentials: "same-origin" });
      if (response.ok) {
        const data = await response.json();
        for (const message of data.messages) {
          if (message.id > after) {
            render(message);
            after = message.id;
          }
        }
      }
    } finally {
      polling = false;
    }
  }

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    post({ text: text });
  });

  transcript.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-payload]");
    if (button) post({ button: button.dataset.payload });
  });

  document.getElementById("restart").addEventListener("click", async function () {
    await fetch(chat.dataset.restartUrl, { method: "POST", credentials: "same-origin" });
    window.location.reload();
  });

  setInterval(poll, 1000);
  poll();
})();
