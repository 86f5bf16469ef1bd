/* Preview UI of gtm_emulator: vanilla JS, no build step.
 *
 * Everything shown comes from the inspection API (/_emulator/api/...) and is written into the
 * page as text (textContent), never as HTML: request data is untrusted.
 * New requests are fetched by polling `requests?after=<last id>`.
 */
(function () {
  "use strict";

  var body = document.body;
  var API = body.getAttribute("data-api");
  var POLL_MS = parseInt(body.getAttribute("data-poll-ms"), 10) || 1000;
  var MAX_SHOWN = 300;

  var state = {
    requests: [],          // summaries, newest first
    byId: new Map(),       // id -> {summary, li}
    details: new Map(),    // id -> full record
    lastId: 0,
    sel: null,             // {id, event: index|null}
    tab: "tags",
    paused: false,
    search: "",
    container: null        // GET /container: ID, version, tags' settings, variables, built-ins
  };

  var STATUS_WORDS = {
    success: "Succeeded", failure: "Failed", not_fired: "Not fired", paused: "Paused", blocked: "Blocked",
    not_emulated: "Not emulated"
  };
  var OPERATORS = {
    equals: ["equals", "does not equal"],
    contains: ["contains", "does not contain"],
    starts_with: ["starts with", "does not start with"],
    ends_with: ["ends with", "does not end with"],
    matches_regex: ["matches RegEx", "does not match RegEx"],
    less: ["is less than", "is not less than"],
    less_or_equals: ["is less than or equal to", "is not less than or equal to"],
    greater: ["is greater than", "is not greater than"],
    greater_or_equals: ["is greater than or equal to", "is not greater than or equal to"]
  };

  // ------------------------------------------------------------------ DOM helpers

  /** h("div", {class: "x"}, "text", child, [children]) : strings become text nodes. */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "text") el.textContent = String(v);
        else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? "" : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  /** append(el, child, child, ...): arrays are flattened; null, undefined and false are skipped. */
  function append(el) {
    for (var i = 1; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); continue; }
      el.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
    }
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
  function $(id) { return document.getElementById(id); }

  function show(value) {
    if (value === null) return "null";
    if (value === undefined) return "undefined";
    if (typeof value === "string") return JSON.stringify(value);
    return JSON.stringify(value);
  }
  function pretty(value) {
    if (typeof value === "string") {
      if (value === "") return "(empty)";
      try { return JSON.stringify(JSON.parse(value), null, 2); } catch (e) { return value; }
    }
    return JSON.stringify(value, null, 2);
  }
  function time(t) {
    var d = new Date(t * 1000);
    return d.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit"});
  }
  function statusBadge(status) {
    return h("span", {"class": "badge s" + String(status).charAt(0), title: "HTTP status of the response"},
      String(status));
  }
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function kvTable(obj, caption, keyHead, valueHead) {
    var keys = Object.keys(obj || {});
    if (!keys.length) return h("p", {"class": "note"}, "None.");
    var rows = keys.map(function (k) {
      var v = obj[k];
      return h("tr", null, h("td", {"class": "k"}, k),
        h("td", {"class": "v mono"}, typeof v === "string" ? v : JSON.stringify(v)));
    });
    return h("table", null, caption ? h("caption", {"class": "note"}, caption) : null,
      h("thead", null, h("tr", null, h("th", {scope: "col"}, keyHead || "Name"),
        h("th", {scope: "col"}, valueHead || "Value"))),
      h("tbody", null, rows));
  }

  // ------------------------------------------------------------------ API

  function api(path, options) {
    return fetch(API + path, Object.assign({credentials: "same-origin", headers: {"Accept": "application/json"}},
      options || {})).then(function (resp) {
      if (!resp.ok) {
        var err = new Error("HTTP " + resp.status);
        err.status = resp.status;
        throw err;
      }
      return resp.json();
    });
  }

  // ------------------------------------------------------------------ left panel

  function eventLabel(ev) { return ev.event_name === "" ? "(no event name)" : ev.event_name; }

  function requestItem(s) {
    var li = h("li", {"data-request-id": s.id});
    var reqBtn = h("button", {type: "button", "class": "req-btn", "data-request-id": s.id,
      "aria-label": "Request " + s.id + ": " + s.method + " " + s.url + ", status " + s.status,
      onclick: function () { select(s.id, null, "request"); }},
      h("span", {"class": "req-top"}, h("span", {"class": "req-path"}, s.method + " " + s.url.split("?")[0]),
        statusBadge(s.status)),
      h("span", {"class": "req-meta"}, h("span", null, "#" + s.id), h("span", null, time(s.time)),
        h("span", null, s.client ? "client " + s.client : "no client claimed it")));
    li.appendChild(reqBtn);
    var list = h("ol", {"class": "event-list", "aria-label": "Events of request " + s.id});
    if (!s.events.length) {
      list.appendChild(h("li", {"class": "ev-none"}, s.client ? (s.reason ? "No events: " + s.reason : "No events")
        : "No events. " + unclaimedText(s.reason)));
    }
    s.events.forEach(function (ev) {
      var marks = [];
      if (ev.tags_fired.length) marks.push(h("span", {"class": "badge fired"}, plural(ev.tags_fired.length, "tag") + " fired"));
      else marks.push(h("span", {"class": "badge"}, "no tag fired"));
      if (ev.tags_failed.length) marks.push(h("span", {"class": "badge st-failure"}, ev.tags_failed.length + " failed"));
      if (ev.tags_rejected.length) marks.push(h("span", {"class": "badge rejected"}, "✗ rejected by vendor"));
      list.appendChild(h("li", null, h("button", {type: "button", "class": "ev-btn", "data-request-id": s.id,
        "data-event-index": ev.index, onclick: function () { select(s.id, ev.index, null); }},
        h("span", {"class": "muted"}, String(ev.index + 1)), h("span", {"class": "ev-name"}, eventLabel(ev)), marks)));
    });
    li.appendChild(list);
    li.setAttribute("data-search", [s.method, s.url, s.status, s.client || ""].concat(
      s.events.map(function (e) { return e.event_name + " " + e.tags_fired.join(" ") + " " + e.tags_not_fired.join(" "); })
    ).join(" ").toLowerCase());
    return li;
  }

  function addRequests(items) {
    // items: newest first
    var list = $("request-list");
    var fresh = items.filter(function (s) { return !state.byId.has(s.id); });
    for (var i = fresh.length - 1; i >= 0; i--) {
      var s = fresh[i];
      var li = requestItem(s);
      state.byId.set(s.id, {summary: s, li: li});
      state.requests.unshift(s);
      list.insertBefore(li, list.firstChild);
      if (s.id > state.lastId) state.lastId = s.id;
      applySearch(li);
    }
    while (state.requests.length > MAX_SHOWN) {
      var old = state.requests.pop();
      var entry = state.byId.get(old.id);
      if (entry) entry.li.remove();
      state.byId.delete(old.id);
      state.details.delete(old.id);
    }
    $("empty").hidden = state.requests.length > 0;
    if (!state.sel && state.requests.length) {
      var newest = state.requests[0];
      select(newest.id, newest.events.length ? 0 : null, newest.events.length ? "tags" : "request");
    }
    markSelection();
  }

  function applySearch(li) {
    li.hidden = !!state.search && li.getAttribute("data-search").indexOf(state.search) < 0;
  }

  function markSelection() {
    document.querySelectorAll(".req-btn, .ev-btn").forEach(function (b) {
      var id = Number(b.getAttribute("data-request-id"));
      var ev = b.hasAttribute("data-event-index") ? Number(b.getAttribute("data-event-index")) : null;
      var on = !!state.sel && state.sel.id === id && (ev === null ? state.sel.event === null : state.sel.event === ev);
      if (on) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
    });
  }

  function resetList() {
    clear($("request-list"));
    state.requests = [];
    state.byId.clear();
    state.details.clear();
    state.sel = null;
    $("empty").hidden = false;
    $("tabs").hidden = true;
    document.querySelectorAll("[role=tabpanel]").forEach(function (p) { p.hidden = true; });
    $("detail-heading").textContent = "Nothing selected";
    $("detail-sub").textContent = "Pick a request or one of its events on the left.";
    clear($("detail-notes"));
  }

  // ------------------------------------------------------------------ selection and tabs

  function select(id, eventIndex, tab) {
    state.sel = {id: id, event: eventIndex};
    if (tab) state.tab = tab;
    else if (state.tab === "request") state.tab = "tags";
    markSelection();
    var cached = state.details.get(id);
    if (cached) { renderDetail(cached); return; }
    api("/requests/" + id).then(function (record) {
      state.details.set(id, record);
      if (state.sel && state.sel.id === id) renderDetail(record);
    }).catch(function (err) {
      $("detail-heading").textContent = "Request #" + id + " is no longer in the log";
      $("detail-sub").textContent = String(err.message);
      clear($("detail-notes"));
    });
  }

  var TAB_IDS = ["request", "tags", "variables", "event", "console"];

  function setTab(name, focus) {
    state.tab = name;
    TAB_IDS.forEach(function (t) {
      var tab = $("tab-" + t);
      var on = t === name;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      $("panel-" + t).hidden = !on;
      if (on && focus) tab.focus();
    });
  }

  function setupTabs() {
    TAB_IDS.forEach(function (t, i) {
      var tab = $("tab-" + t);
      tab.addEventListener("click", function () { setTab(t, false); });
      tab.addEventListener("keydown", function (e) {
        var next = null;
        if (e.key === "ArrowRight") next = TAB_IDS[(i + 1) % TAB_IDS.length];
        else if (e.key === "ArrowLeft") next = TAB_IDS[(i - 1 + TAB_IDS.length) % TAB_IDS.length];
        else if (e.key === "Home") next = TAB_IDS[0];
        else if (e.key === "End") next = TAB_IDS[TAB_IDS.length - 1];
        if (next) { e.preventDefault(); setTab(next, true); }
      });
    });
  }

  // ------------------------------------------------------------------ detail

  function renderDetail(rec) {
    var sel = state.sel;
    var events = rec.events || [];
    var index = sel.event === null ? (events.length ? 0 : null) : sel.event;
    var ev = index === null ? null : events[index];
    $("detail-heading").textContent = "Request #" + rec.id + ": " + rec.method + " " + rec.url +
      " → " + rec.status;
    var sub = [time(rec.time), rec.client ? "claimed by client " + rec.client : "no client claimed it",
      plural(events.length, "event")];
    if (ev) sub.push("showing event " + (index + 1) + ": " + eventLabel({event_name: ev.event_name}));
    if (rec.elapsed_ms !== null && rec.elapsed_ms !== undefined) sub.push(rec.elapsed_ms.toFixed(1) + " ms");
    $("detail-sub").textContent = sub.join(" · ");
    clear($("detail-notes"));
    append($("detail-notes"), explanationCallouts(rec));
    $("tabs").hidden = false;
    renderRequestTab(rec);
    renderTagsTab(rec, ev);
    renderVariablesTab(ev);
    renderEventTab(ev);
    renderConsoleTab(rec, ev);
    setTab(state.tab, false);
  }

  function noEvent(panel, rec) {
    var why = rec && !rec.client ? " " + unclaimedText(rec.reason) : (rec && rec.reason ? ": " + rec.reason : ".");
    append(panel, h("p", {"class": "callout info"}, "This request created no events." + (why === "." ? "" : why) +
      " See the Request tab for what came in and what went back."));
  }

  function queryTable(query) {
    if (!query) return null;
    var rows = [];
    try {
      new URLSearchParams(query).forEach(function (v, k) { rows.push([k, v]); });
    } catch (e) { return null; }
    if (!rows.length) return null;
    return h("div", null, h("h4", null, "Query parameters"),
      h("table", null, h("thead", null, h("tr", null, h("th", {scope: "col"}, "Parameter"), h("th", {scope: "col"}, "Value"))),
        h("tbody", null, rows.map(function (r) {
          return h("tr", null, h("td", {"class": "k"}, r[0]), h("td", {"class": "v mono"}, r[1]));
        }))));
  }

  function vendorVerdict(o) {
    var resp = o.response || null;
    if (o.error) return {cls: "badge st-failure", text: "✗ No answer", bad: true};
    if (resp && (resp.status < 200 || resp.status >= 300)) {
      return {cls: "badge st-failure", text: "✗ HTTP error " + resp.status, bad: true};
    }
    if (o.vendor_ok === false) return {cls: "badge rejected", text: "✗ Rejected by vendor", bad: true, rejected: true};
    if (o.vendor_ok === true) return {cls: "badge vendor-ok", text: "✓ Accepted by vendor", bad: false};
    return {cls: "badge", text: "not checked", bad: false};
  }

  function vendorMessage(o) {
    var b = o.response && o.response.body;
    if (b && typeof b === "object" && (b.code !== undefined || b.message !== undefined)) {
      return "code " + show(b.code) + (b.message ? ": " + String(b.message).replace(/[.\s]+$/, "") : "");
    }
    return (o.warnings || []).join("; ");
  }

  function outgoingCard(o, open) {
    var verdict = vendorVerdict(o);
    var resp = o.response;
    var summary = h("summary", null, h("span", {"class": verdict.cls, "data-verdict": verdict.rejected ? "rejected" : ""},
      verdict.text), h("span", {"class": "tag-name"}, o.tag), h("span", {"class": "mono"}, o.method + " " + o.url),
      resp ? statusBadge(resp.status) : null);
    var parts = [];
    if (verdict.rejected) {
      parts.push(h("p", {"class": "callout bad", role: "note"},
        "The vendor answered HTTP " + (resp ? resp.status : "?") + " but refused the data (" + vendorMessage(o) +
        "). Google's Preview would show this tag as Succeeded; nothing was recorded by the vendor."));
    }
    if (o.error) parts.push(h("p", {"class": "callout bad"}, "The request got no answer: " + o.error));
    // The vendor's remarks: warnings when it refused the data or did not answer; when it accepted the
    // data they are notes (nothing failed), so the intended path shows no warning.
    (o.warnings || []).forEach(function (w) {
      if (!verdict.rejected) parts.push(h("p", {"class": "callout " + (o.vendor_ok === true ? "info" : "warn")}, w));
    });
    parts.push(h("h4", null, "Request headers"), kvTable(o.headers, null, "Header"));
    parts.push(h("h4", null, "Payload sent"), h("pre", {"class": "payload"}, pretty(o.body)));
    if (o.body_truncated) parts.push(h("p", {"class": "note"}, "The body was cut to the store's size limit."));
    if (resp) {
      parts.push(h("h4", null, "Vendor's response (HTTP " + resp.status + ")"));
      if (resp.headers) parts.push(kvTable(resp.headers, null, "Header"));
      parts.push(h("pre", {"class": "vendor-response"}, pretty(resp.body)));
    }
    if (o.duration_ms !== undefined) parts.push(h("p", {"class": "note"}, "Took " + o.duration_ms + " ms."));
    return h("details", {"class": "card outgoing" + (verdict.bad ? " is-rejected" : ""), open: open || null},
      summary, h("div", {"class": "card-body"}, parts));
  }

  function cookieTable(cookies) {
    if (!cookies || !cookies.length) return h("p", {"class": "note"}, "No cookies set.");
    var cols = ["name", "value", "domain", "path", "max_age", "secure", "http_only", "same_site"];
    return h("table", null, h("thead", null, h("tr", null, cols.map(function (c) {
      return h("th", {scope: "col"}, c.replace("_", " "));
    }))), h("tbody", null, cookies.map(function (c) {
      return h("tr", null, cols.map(function (k) {
        return h("td", {"class": "mono"}, c[k] === null || c[k] === undefined ? "" : String(c[k]));
      }));
    })));
  }

  /** How this request was explained: re-run when it was opened (server/rerun.py), and whether the re-run agreed. */
  function explanationCallouts(rec) {
    var ex = rec.explanation;
    if (!ex) return [];
    var out = [];
    if (ex.rerun === false) {
      out.push(h("p", {"class": "callout warn"}, "Shown as recorded, without the traces of the decisions: " + ex.why + "."));
    } else if (ex.matches === false) {
      out.push(h("p", {"class": "callout bad"}, "This request was explained by running it again, and the re-run did " +
        "not do the same: " + (ex.differences || []).join("; ") + ". Statuses and outgoing requests are as they " +
        "happened; triggers, variables and console lines are the re-run's."));
    }
    (ex.notes || []).forEach(function (n) { out.push(h("p", {"class": "callout info"}, n.charAt(0).toUpperCase() + n.slice(1) + ".")); });
    return out;
  }

  function renderRequestTab(rec) {
    var panel = $("panel-request");
    clear(panel);
    var req = rec.request || {method: rec.method, headers: {}, cookies: {}, body: ""};
    append(panel, h("h3", null, "Client"),
      h("p", null, rec.client ? ["Claimed by the client ", h("strong", null, rec.client), "."]
        : unclaimedText(rec.reason)));
    append(panel, h("h3", null, "Incoming request"),
      h("p", {"class": "mono"}, req.method + " " + rec.url),
      h("p", {"class": "note"}, "From " + (req.remote_addr || "?") + " at " + new Date(rec.time * 1000).toLocaleString()),
      queryTable(req.query),
      h("h4", null, "Headers"), kvTable(req.headers, null, "Header"),
      h("h4", null, "Cookies"), kvTable(req.cookies, null, "Cookie"),
      h("h4", null, "Body"), h("pre", null, pretty(req.body || "")),
      req.body_truncated ? h("p", {"class": "note"}, "The body was cut to the store's size limit.") : null);
    var outgoing = [];
    (rec.events || []).forEach(function (e) { outgoing = outgoing.concat(e.outgoing || []); });
    append(panel, h("h3", null, "Outgoing HTTP requests", h("span", {"class": "counts"}, String(outgoing.length))));
    if (!outgoing.length) append(panel, h("p", {"class": "note"}, "No tag sent anything for this request."));
    outgoing.forEach(function (o) { append(panel, outgoingCard(o, false)); });
    var resp = rec.response || {status: rec.status};
    append(panel, h("h3", null, "Response sent back", statusBadge(resp.status)),
      h("h4", null, "Headers"), kvTable(resp.headers, null, "Header"),
      h("h4", null, "Cookies set"), cookieTable(resp.set_cookies),
      h("h4", null, "Body"), h("pre", null, pretty(resp.body || "")));
    (rec.warnings || []).forEach(function (w) { append(panel, h("p", {"class": "callout warn"}, w)); });
  }

  /** "No client claimed this request", then the clients' reasons, without saying it twice. */
  function unclaimedText(reason) {
    var rest = String(reason || "").replace(/^no client claimed (this|the) request[:.]?\s*/i, "").trim();
    return "No client claimed this request" + (rest ? (rest.charAt(0) === "(" ? " " + rest : ": " + rest) : ".");
  }

  function conditionRow(c) {
    var ops = OPERATORS[c.operator] || [c.operator.replace(/_/g, " "), "not " + c.operator.replace(/_/g, " ")];
    var check = ops[c.negate ? 1 : 0] + (c.ignore_case ? " (ignoring case)" : "");
    var note = [];
    if (c.error) note.push(c.error);
    (c.notes || []).forEach(function (n) { note.push(n); });
    return h("tr", {"class": c.result ? "cond-true" : "cond-false", "data-result": c.result ? "true" : "false"},
      h("td", null, h("span", {"class": "mark " + (c.result ? "ok" : "bad"), role: "img",
        "aria-label": c.result ? "condition met" : "condition not met"}, c.result ? "✓" : "✗")),
      h("td", {"class": "mono"}, "{{" + c.variable + "}}"),
      h("td", null, check),
      h("td", {"class": "mono expected"}, show(c.right)),
      h("td", {"class": "mono actual"}, show(c.left), note.length ? h("div", {"class": "note"}, note.join("; ")) : null));
  }

  function triggerBlock(t) {
    var firing = t.role !== "blocking";
    var verdict = firing ? (t.matched ? "matched: the tag may fire" : "did not match")
      : (t.matched ? "matched: it blocks the tag" : "did not match: it does not block");
    var good = firing ? t.matched : !t.matched;
    var rows = (t.conditions || []).map(conditionRow);
    return h("div", {"class": "trigger " + (good ? "matched" : "unmatched"), "data-trigger": t.name},
      h("h4", null, h("span", {"class": "mark " + (t.matched ? "ok" : "bad"), "aria-hidden": "true"}, t.matched ? "✓" : "✗"),
        " " + (firing ? "Firing" : "Blocking") + " trigger “" + t.name + "” " + verdict),
      rows.length ? h("table", {"class": "conditions"}, h("thead", null, h("tr", null,
        h("th", {scope: "col"}, h("span", {"class": "skip"}, "Result")), h("th", {scope: "col"}, "Variable"),
        h("th", {scope: "col"}, "Check"), h("th", {scope: "col"}, "Expected value"),
        h("th", {scope: "col"}, "Actual value"))), h("tbody", null, rows))
        : h("p", {"class": "note"}, "No conditions: it applies to every event."));
  }

  function whyNot(tag) {
    if (tag.status === "paused") return "The tag is paused.";
    var blocking = (tag.triggers || []).filter(function (t) { return t.role === "blocking" && t.matched; });
    if (blocking.length) return "Blocked by the trigger “" + blocking[0].name + "”.";
    var firing = (tag.triggers || []).filter(function (t) { return t.role !== "blocking"; });
    if (!firing.length) return "The tag has no firing trigger.";
    for (var i = 0; i < firing.length; i++) {
      var bad = (firing[i].conditions || []).filter(function (c) { return !c.result; })[0];
      if (bad) {
        var ops = OPERATORS[bad.operator] || [bad.operator, "not " + bad.operator];
        return "✗ {{" + bad.variable + "}} " + ops[bad.negate ? 1 : 0] + " " + show(bad.right) +
          ", but the actual value was " + show(bad.left) + ".";
      }
    }
    return tag.error || "No firing trigger matched.";
  }

  /** The tag's settings as the container sets them, with the value of each for this event. */
  function tagProperties(tag, ev) {
    var conf = ((state.container && state.container.tags) || []).filter(function (t) { return t.name === tag.name; })[0];
    if (!conf) return null;
    var values = (ev && ev.variables) || {};
    var names = Object.keys(conf.parameters || {});
    if (!names.length) return h("p", {"class": "note"}, "No settings: every field keeps its default.");
    function resolved(value) {
      if (typeof value !== "string" || value.indexOf("{{") < 0) return null;
      var whole = /^\{\{\s*([^}]+?)\s*\}\}$/.exec(value);
      if (whole) return Object.prototype.hasOwnProperty.call(values, whole[1]) ? values[whole[1]] : undefined;
      return value.replace(/\{\{\s*([^}]+?)\s*\}\}/g, function (_m, name) {
        return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : "";
      });
    }
    var rows = names.map(function (name) {
      var value = conf.parameters[name];
      var now = resolved(value);
      return h("tr", {"data-property": name}, h("td", {"class": "k"}, name),
        h("td", {"class": "v mono"}, typeof value === "string" ? value : JSON.stringify(value)),
        h("td", {"class": "v mono"}, now === null ? h("span", {"class": "note"}, "same") :
          (now === undefined ? h("span", {"class": "note"}, "undefined") :
            (typeof now === "string" ? now : JSON.stringify(now)))));
    });
    return h("table", {"class": "properties"}, h("thead", null, h("tr", null, h("th", {scope: "col"}, "Property"),
      h("th", {scope: "col"}, "Configured"), h("th", {scope: "col"}, "Value for this event"))), h("tbody", null, rows));
  }

  function tagCard(tag, ev, rec) {
    var statusWord = STATUS_WORDS[tag.status] || tag.status;
    var summary = h("summary", null,
      h("span", {"class": "badge st-" + tag.status}, statusWord), h("span", {"class": "tag-name"}, tag.name),
      h("span", {"class": "tag-type"}, tag.type),
      tag.vendor_rejected ? h("span", {"class": "badge rejected", "data-verdict": "rejected"}, "✗ Rejected by vendor") : null,
      tag.fired ? null : h("span", {"class": "why"}, whyNot(tag)));
    var parts = [];
    var sent = ((ev && ev.outgoing) || []).filter(function (o) { return o.tag === tag.name; });
    if (tag.error) parts.push(h("p", {"class": "callout bad"}, "Error: " + tag.error));
    var said = null;  // the vendor's refusal, said once in the banner
    if (tag.vendor_rejected) {
      var refused = sent.filter(function (o) { return o.vendor_ok === false; })[0];
      said = refused ? vendorMessage(refused) : "";
      parts.push(h("p", {"class": "callout bad rejection", role: "note"}, "GTM counts this tag as Succeeded, but " +
        "the vendor refused its data" + (said ? " (" + said + ")." : ".")));
    }
    (tag.warnings || []).forEach(function (w) {
      if (said && said.indexOf("code ") === 0 && w.indexOf(said.split(":")[0]) >= 0) return;  // the banner says it
      parts.push(h("p", {"class": "callout warn"}, w));
    });
    (tag.notes || []).forEach(function (n) { parts.push(h("p", {"class": "callout info"}, n)); });
    var props = tagProperties(tag, ev);
    if (props) {
      parts.push(h("h4", null, "Properties"));
      var since = state.container && state.container.since;
      if (since && rec && rec.time < since) {
        parts.push(h("p", {"class": "callout info", "data-note": "changed"}, "The container was changed after this " +
          "request: these are the tag's settings now, which may differ from the ones it ran with."));
      }
      parts.push(props);
    }
    if (tag.would_read) {
      parts.push(h("h4", null, "What it would have read (the emulator cannot do this tag's work)"));
      parts.push(h("pre", {"class": "json"}, JSON.stringify(tag.would_read, null, 2)));
    }
    (tag.transformations || []).forEach(function (tf) {
      var bits = [];
      if ((tf.changes.removed || []).length) bits.push("removed " + tf.changes.removed.join(", "));
      var set = tf.changes.set || {};
      Object.keys(set).forEach(function (k) { bits.push("set " + k + " = " + show(set[k])); });
      parts.push(h("p", {"class": "note", "data-transformation": tf.name},
        "Transformation “" + tf.name + "” (" + tf.kind + "): " + (bits.join("; ") || "no change")));
    });
    parts.push(h("h4", null, tag.fired ? "Why it fired" : "Why it did not fire"));
    if (!(tag.triggers || []).length) parts.push(h("p", {"class": "note"}, tag.status === "paused"
      ? "The tag is paused, so its triggers were not checked." : "No trigger was evaluated."));
    (tag.triggers || []).forEach(function (t) { parts.push(triggerBlock(t)); });
    if (sent.length) {
      parts.push(h("h4", null, "Outgoing HTTP requests of this tag"));
      sent.forEach(function (o) { parts.push(outgoingCard(o, false)); });
    }
    if (tag.duration_ms !== undefined) parts.push(h("p", {"class": "note"}, "Ran in " + tag.duration_ms + " ms."));
    return h("details", {"class": "card tag" + (tag.vendor_rejected ? " is-rejected" : ""), "data-tag": tag.name,
      "data-status": tag.status}, summary, h("div", {"class": "card-body"}, parts));
  }

  function renderTagsTab(rec, ev) {
    var panel = $("panel-tags");
    clear(panel);
    if (!ev) { noEvent(panel, rec); return; }
    var tags = ev.tags || [];
    var fired = tags.filter(function (t) { return t.fired; });
    var notFired = tags.filter(function (t) { return !t.fired; });
    var ok = fired.filter(function (t) { return t.status === "success"; }).length;
    var failed = fired.filter(function (t) { return t.status === "failure"; }).length;
    var rejected = fired.filter(function (t) { return t.vendor_rejected; }).length;
    var notEmulated = fired.filter(function (t) { return t.status === "not_emulated"; }).length;
    var fh = h("section", {"class": "tags-fired", "aria-labelledby": "h-fired"},
      h("h3", {id: "h-fired"}, "Tags Fired", h("span", {"class": "counts"},
        "Succeeded: " + ok + " · Failed: " + failed + (rejected ? " · Rejected by vendor: " + rejected : "") +
        (notEmulated ? " · Not emulated: " + notEmulated : ""))));
    if (!fired.length) append(fh, h("p", {"class": "note"}, "No tag fired for this event."));
    fired.forEach(function (t) { append(fh, tagCard(t, ev, rec)); });
    var nh = h("section", {"class": "tags-not-fired", "aria-labelledby": "h-not-fired"},
      h("h3", {id: "h-not-fired"}, "Tags Not Fired", h("span", {"class": "counts"}, String(notFired.length))));
    if (!notFired.length) append(nh, h("p", {"class": "note"}, "Every tag fired."));
    notFired.forEach(function (t) { append(nh, tagCard(t, ev, rec)); });
    append(panel, fh, nh);
  }

  function renderVariablesTab(ev) {
    var panel = $("panel-variables");
    clear(panel);
    if (!ev) { noEvent(panel, null); return; }
    var values = ev.variables || {};
    var c = state.container || {variables: [], builtins: []};
    var rows = [];
    var listed = {};
    function row(name, type, builtin) {
      listed[name] = true;
      var has = Object.prototype.hasOwnProperty.call(values, name);
      rows.push(h("tr", {"data-variable": name, "data-type": type},
        h("td", {"class": "k"}, name),
        h("td", {"class": "type"}, builtin ? "Built-in" : type),
        h("td", {"class": "v mono"}, has ? (typeof values[name] === "string" ? values[name] : JSON.stringify(values[name]))
          : h("span", {"class": "note"}, "undefined"))));
    }
    (c.variables || []).forEach(function (v) { row(v.name, v.type, false); });
    (c.builtins || []).forEach(function (name) { row(name, "Built-in", true); });
    Object.keys(values).forEach(function (name) { if (!listed[name]) row(name, "", false); });
    append(panel, h("h3", null, "Variables", h("span", {"class": "counts"},
        plural((c.variables || []).length, "user-defined variable") + " · " +
        plural((c.builtins || []).length, "built-in variable"))),
      h("p", {"class": "note"}, "Every variable of the container and the enabled built-in variables, with the " +
        "value each had for this event (undefined: no value). Secrets are shown as ****."),
      h("table", {"class": "variables"}, h("thead", null, h("tr", null, h("th", {scope: "col"}, "Variable"),
        h("th", {scope: "col"}, "Type"), h("th", {scope: "col"}, "Value"))), h("tbody", null, rows)));
  }

  function renderEventTab(ev) {
    var panel = $("panel-event");
    clear(panel);
    if (!ev) { noEvent(panel, null); return; }
    append(panel, h("h3", null, "Event Data"),
      h("p", {"class": "note"}, "What the client built from the request: the data every tag receives."),
      kvTable(ev.event_data, null, "Key", "Value"),
      h("h4", null, "As JSON"), h("pre", null, JSON.stringify(ev.event_data, null, 2)));
  }

  function renderConsoleTab(rec, ev) {
    var panel = $("panel-console");
    clear(panel);
    if (!ev) { noEvent(panel, rec); return; }
    var lines = (ev.console || []).map(function (l) { return h("li", null, l); });
    var warnings = (ev.warnings || []).concat(rec.warnings || []).map(function (w) {
      return h("li", {"class": "warning"}, "warning: " + w);
    });
    (ev.tags || []).forEach(function (t) {
      if (t.error) warnings.push(h("li", {"class": "warning"}, t.name + ": " + t.error));
    });
    append(panel, h("h3", null, "Console"));
    if (!lines.length && !warnings.length) append(panel, h("p", {"class": "note"}, "Nothing was logged for this event."));
    else append(panel, h("ol", {"class": "console"}, lines, warnings));
  }

  // ------------------------------------------------------------------ totals and polling

  function renderContainer(c) {
    state.container = c;
    var meta = $("container-meta");
    if (meta) {
      clear(meta);
      append(meta, h("span", {"data-meta": "id"}, "ID " + c.id), h("span", {"data-meta": "version"}, "Version " + c.version),
        c.environment ? h("span", {"data-meta": "environment"}, "Environment " + c.environment) : null,
        h("span", {"data-meta": "mode"}, c.preview_mode ? "Preview mode" : "Published mode"),
        h("span", {"data-meta": "counts"}, plural(c.clients.length, "client") + ", " + plural(c.tags.length, "tag") +
          ", " + plural(c.triggers.length, "trigger") + ", " + plural(c.variables.length, "variable")));
    }
    var name = $("container-name");
    if (name) name.textContent = c.name;
  }
  function loadContainer() {
    return api("/container").then(function (c) {
      var changed = JSON.stringify(c) !== JSON.stringify(state.container);
      renderContainer(c);
      if (changed && state.sel && state.details.get(state.sel.id)) renderDetail(state.details.get(state.sel.id));
    }).catch(function () { /* shown without it */ });
  }

  function renderTotals(sum) {
    document.querySelectorAll("[data-total]").forEach(function (dd) {
      var v = sum[dd.getAttribute("data-total")] || 0;
      dd.textContent = String(v);
      dd.parentNode.classList.toggle("nonzero", v > 0);
    });
  }

  function setLive(text, cls) {
    var live = $("live");
    if (live.textContent !== text) live.textContent = text;
    live.className = "live" + (cls ? " " + cls : "");
  }

  function poll() {
    if (state.paused) { schedule(); return; }
    Promise.all([api("/requests?after=" + state.lastId + "&limit=200"), api("/summary")]).then(function (res) {
      var sum = res[1];
      if ((sum.last_id === null && state.requests.length) || (sum.last_id !== null && sum.last_id < state.lastId)) {
        resetList();  // the log was cleared (here or by another client)
        state.lastId = 0;
      }
      if (res[0].requests.length) loadContainer();  // the container may have been swapped (an edit)
      addRequests(res[0].requests);
      renderTotals(sum);
      setLive("Live", "");
    }).catch(function (err) {
      setLive(err.status === 401 ? "Needs the token: open the address printed at start-up" : "Server not reachable, retrying",
        "offline");
    }).then(schedule);
  }
  function schedule() { setTimeout(poll, POLL_MS); }

  function setup() {
    setupTabs();
    $("pause").addEventListener("click", function () {
      state.paused = !state.paused;
      this.setAttribute("aria-pressed", state.paused ? "true" : "false");
      this.textContent = state.paused ? "Resume updates" : "Pause updates";
      setLive(state.paused ? "Paused" : "Live", state.paused ? "paused" : "");
    });
    $("legend-toggle").addEventListener("click", function () {
      var legend = $("legend");
      legend.hidden = !legend.hidden;
      this.setAttribute("aria-expanded", legend.hidden ? "false" : "true");
    });
    $("clear").addEventListener("click", function () {
      if (!window.confirm("Delete every request from the log? This cannot be undone.")) return;
      api("/reset", {method: "POST"}).then(function () {
        resetList();
        return api("/summary");
      }).then(renderTotals).catch(function () { setLive("Could not clear the log", "offline"); });
    });
    $("search").addEventListener("input", function () {
      state.search = this.value.trim().toLowerCase();
      state.byId.forEach(function (entry) { applySearch(entry.li); });
    });
    Promise.all([api("/requests?limit=" + MAX_SHOWN), api("/summary"), loadContainer()]).then(function (res) {
      addRequests(res[0].requests);
      renderTotals(res[1]);
    }).catch(function () { setLive("Server not reachable, retrying", "offline"); }).then(schedule);
  }

  setup();
}());
