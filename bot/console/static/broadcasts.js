// The compose form's live count: as the filters or texts change, ask the server how
// many people they reach, per language (counts only).
(function () {
  "use strict";
  const form = document.getElementById("broadcast-form");
  if (!form) return;
  const languages = ["nl", "fr", "en", "uk", "ps", "fa"];
  let timer = null;
  let asked = 0;

  function query() {
    const params = new URLSearchParams();
    for (const box of form.querySelectorAll("input[name=channel]:checked")) params.append("channel", box.value);
    for (const option of form.querySelectorAll("select[name=topic] option:checked")) params.append("topic", option.value);
    for (const name of ["topic_days", "since_days"]) {
      const value = form.elements[name].value.trim();
      if (value) params.set(name, value);
    }
    for (const lang of languages) {
      if (form.elements["text_" + lang].value.trim()) params.set("has_" + lang, "1");
    }
    return params;
  }

  function show(id, value) {
    const element = document.getElementById(id);
    if (element) element.textContent = String(value);
  }

  async function count() {
    const mine = ++asked;
    const response = await fetch(form.dataset.countUrl + "?" + query().toString(), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok || mine !== asked) return;
    const counts = await response.json();
    show("count-targeted", counts.targeted);
    show("count-missing", counts.not_reached_for_want_of_a_text);
    for (const lang of languages) {
      show("count-audience-" + lang, counts.by_language[lang].audience);
      show("count-targeted-" + lang, counts.by_language[lang].targeted);
    }
    form.dataset.counted = String(counts.targeted);
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(count, 250);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  count();
})();
