// The walkthrough's small behaviours: confirmations, condition rows, copying the token, the live test.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }

  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", () => {
      const source = document.querySelector(button.dataset.copy);
      if (source && navigator.clipboard) navigator.clipboard.writeText(source.textContent.trim()).catch(() => {});
      button.classList.add("copied");
    });
  }

  for (const button of document.querySelectorAll("[data-toggle-secret]")) {
    button.addEventListener("click", () => {
      const input = document.getElementById(button.dataset.toggleSecret);
      if (!input) return;
      const show = input.type === "password";
      input.type = show ? "text" : "password";
      button.textContent = show ? button.dataset.hide : button.dataset.show;
      button.setAttribute("aria-pressed", show ? "true" : "false");
    });
  }

  setUpConditions();
  setUpEnabledWhen();
  setUpTest();
});

function setUpConditions() {
  const box = document.getElementById("conditions");
  if (!box) return;
  const renumber = () => {
    box.querySelectorAll(".condition").forEach((row, index) => {
      row.dataset.row = String(index);
      for (const input of row.querySelectorAll("[name]")) {
        input.name = input.name.replace(/^cond-\d+-/, `cond-${index}-`);
      }
    });
  };
  box.addEventListener("click", (event) => {
    const remove = event.target.closest("[data-remove-row]");
    if (!remove) return;
    const rows = box.querySelectorAll(".condition");
    const row = remove.closest(".condition");
    if (rows.length > 1) row.remove();
    else row.querySelectorAll("input, select").forEach((el) => { el.value = el.tagName === "SELECT" && el.options[0] ? el.options[0].value : ""; });
    renumber();
  });
  const add = document.getElementById("add-condition");
  add.addEventListener("click", () => {
    const rows = box.querySelectorAll(".condition");
    const copy = rows[rows.length - 1].cloneNode(true);
    copy.querySelectorAll(".error, .hint").forEach((el) => el.remove());
    copy.querySelector("input").value = "";
    const selects = copy.querySelectorAll("select");
    selects[0].selectedIndex = 0;
    selects[1].selectedIndex = 0;
    add.before(copy);
    renumber();
  });
}

function setUpEnabledWhen() {
  const fields = document.querySelectorAll("[data-enabled-when]");
  if (!fields.length) return;
  const update = () => {
    for (const field of fields) {
      const rules = JSON.parse(field.dataset.enabledWhen);
      let on = true;
      for (const [name, allowed] of Object.entries(rules)) {
        const input = document.querySelector(`[name="p_${name}"]`);
        const value = input ? (input.type === "checkbox" ? input.checked : input.value) : undefined;
        if (!allowed.includes(value)) on = false;
      }
      field.hidden = !on;
    }
  };
  document.addEventListener("change", update);
  update();
}

function setUpTest() {
  const form = document.getElementById("test-form");
  if (!form) return;
  const hits = JSON.parse(form.dataset.hits);
  const ph = JSON.parse(form.dataset.placeholders);
  const results = document.getElementById("results");
  const sentBox = document.getElementById("sent-hits");
  const errorBox = document.getElementById("test-error");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = document.getElementById("send-test");
    button.disabled = true;
    errorBox.hidden = true;
    results.innerHTML = "";
    const run = Math.floor(Math.random() * 1e9) + 1;
    const values = { [ph.run]: String(run), [ph.email]: form.elements.email.value,
                     [ph.user_id]: form.elements.user_id.value };
    const list = sentBox.querySelector("ol");
    list.innerHTML = "";
    try {
      for (const name of ["purchase", "page_view"]) {
        const query = new URLSearchParams();
        for (const [key, raw] of hits[name]) {
          let value = raw;
          for (const [placeholder, real] of Object.entries(values)) value = value.split(placeholder).join(real);
          query.append(key, value);
        }
        const url = `${form.dataset.collect}?${query.toString()}`;
        const response = await fetch(url, { method: "POST", credentials: "same-origin", keepalive: true });
        const item = document.createElement("li");
        const code = document.createElement("code");
        code.textContent = `POST ${url} → ${response.status}`;
        item.append(code);
        list.append(item);
      }
      sentBox.hidden = false;
      const answer = await fetch(`${form.dataset.results}?run=${run}`, { credentials: "same-origin" });
      if (!answer.ok) throw new Error(`results: HTTP ${answer.status}`);
      results.innerHTML = await answer.text();
      results.dataset.run = String(run);
      results.scrollIntoView({ behavior: "smooth", block: "start" });
    } catch (error) {
      errorBox.hidden = false;
      errorBox.dataset.text = errorBox.dataset.text || errorBox.textContent;
      errorBox.textContent = `${errorBox.dataset.text} (${error})`;
    } finally {
      button.disabled = false;
    }
  });
}
