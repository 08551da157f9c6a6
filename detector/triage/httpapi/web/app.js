// fraudwatch triage console. Plain JavaScript, no build step, nothing
// loaded from elsewhere. Every value from the API is put into the page with
// textContent or as an attribute value, never parsed as HTML: alert
// evidence is text an attacker wrote.
"use strict";

(function () {
  const TOKEN_KEY = "fraudwatch.triage.token";
  const POLL_MS = 5000;
  const PAGE = 50;
  const SEVERITIES = ["none", "low", "medium", "high", "critical"];
  const STATUSES = ["open", "acknowledged", "resolved"];
  const CATEGORIES = ["lottery_scam", "purchase_scam", "credential_request", "staff_impersonation",
    "safe_account", "investment_scam", "mule_recruitment", "spam", "unknown_number",
    "lookalike_number", "lookalike_link", "malicious_attachment", "campaign", "call_pattern",
    "sensitive_data", "obfuscation"];
  const MATCHERS = ["sender_hash", "campaign", "rule", "category", "employee"];

  const $ = (sel) => document.querySelector(sel);

  const state = {
    token: "",
    me: null,
    view: "",
    offset: 0,
    total: 0,
    incidents: [],
    selected: "",   // the queue's highlighted incident
    open: "",       // the incident shown in #detail
    detail: null,
    timer: 0,
    busy: false,
  };

  // el builds an element. Strings and numbers among children become text
  // nodes; attrs are set as properties or attributes, never as HTML.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function setText(sel, v) { $(sel).textContent = v === undefined || v === null ? "" : String(v); }
  function oneOf(v, list, fallback) { return list.includes(v) ? v : fallback; }

  function fmtTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d) || d.getUTCFullYear() < 1971) return "";
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }
  function ago(iso) {
    const s = (Date.now() - new Date(iso).getTime()) / 1000;
    if (!isFinite(s)) return "";
    if (s < 60) return "just now";
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
  }
  function localToISO(v) { return v ? new Date(v).toISOString().replace(/\.\d{3}Z$/, "Z") : ""; }

  function sevBadge(sev) {
    const s = oneOf(sev, SEVERITIES, "none");
    return el("span", { class: "sev sev-" + s, text: String(sev || "") });
  }
  function statusBadge(st, span) {
    const e = span || el("span");
    e.className = "badge st-" + oneOf(st, STATUSES, "open");
    e.textContent = String(st || "");
    return e;
  }

  let flashTimer = 0;
  // flash shows a short message for a few seconds (or until the next one).
  function flash(msg) {
    setText("#flash", msg);
    clearTimeout(flashTimer);
    if (msg) flashTimer = setTimeout(() => setText("#flash", ""), 8000);
  }

  // ---- API ---------------------------------------------------------------

  class APIError extends Error {
    constructor(status, msg) { super(msg); this.status = status; }
  }

  async function api(method, path, body) {
    const init = { method, headers: { "Authorization": "Bearer " + state.token, "Accept": "application/json" }, cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new APIError(0, "triage cannot be reached: " + e.message);
    }
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (res.status === 401 && state.me) {
      signOut("Your token was not accepted any more; sign in again.");
    }
    if (!res.ok) {
      throw new APIError(res.status, (data && data.error) || ("HTTP " + res.status));
    }
    return { status: res.status, data };
  }

  // ---- sign in -----------------------------------------------------------

  async function signIn(token) {
    state.token = token;
    const { data } = await api("GET", "/api/me");
    state.me = data;
    sessionStorage.setItem(TOKEN_KEY, token);
    setText("#who-name", `${data.name} (${data.role})`);
    $("#who").hidden = false;
    $("#nav").hidden = false;
    $("#nav-audit").hidden = data.role !== "admin";
    const canChange = data.role === "analyst" || data.role === "admin";
    document.body.classList.toggle("readonly", !canChange);
    for (const id of ["#ack", "#assign", "#owner", "#note", "#note-text", "#resolve", "#verdict", "#resolve-comment", "#silence-sender", "#silence-campaign"]) {
      $(id).disabled = !canChange;
    }
    $("#readonly-note").hidden = canChange;
    $("#silence-form").hidden = !canChange;
    if (!location.hash || location.hash === "#login") location.hash = "#queue";
    route();
    startPolling();
    api("GET", "/api/analysts/" + encodeURIComponent(data.name)).then(({ data: st }) => {
      if (st.verdicts > 0) setText("#who-name", `${data.name} (${data.role}) · trust ${st.trust.toFixed(2)}`);
    }).catch(() => {});
  }

  function signOut(msg) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = ""; state.me = null; state.open = ""; state.selected = "";
    clearInterval(state.timer);
    $("#who").hidden = true;
    $("#nav").hidden = true;
    $("#queue tbody").replaceChildren();
    $("#detail").hidden = true;
    showView("login");
    setText("#login-error", msg || "");
    $("#token").value = "";
    $("#token").focus();
  }

  // ---- views -------------------------------------------------------------

  function showView(name) {
    if (state.view !== name) flash("");
    state.view = name;
    for (const v of ["login", "queue", "silences", "rules", "audit"]) {
      $("#view-" + v).hidden = v !== name;
    }
    for (const v of ["queue", "silences", "rules", "audit"]) {
      const a = $("#nav-" + v);
      if (v === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
  }

  function route() {
    if (!state.me) { showView("login"); return; }
    const [view, arg] = location.hash.replace(/^#/, "").split("/");
    switch (view) {
      case "silences": showView("silences"); loadSilences(); break;
      case "rules": showView("rules"); loadRules(); break;
      case "audit":
        if (state.me.role !== "admin") { location.hash = "#queue"; return; }
        showView("audit"); loadAudit(); break;
      default:
        showView("queue");
        loadQueue();
        if (arg) openIncident(decodeURIComponent(arg), false);
    }
  }

  // ---- queue -------------------------------------------------------------

  function filterParams() {
    const p = new URLSearchParams();
    const form = $("#filters");
    const statuses = [...form.querySelectorAll('input[name="status"]:checked')].map((i) => i.value);
    if (statuses.length) p.set("status", statuses.join(","));
    for (const [id, name] of [["#f-severity", "severity"], ["#f-category", "category"], ["#f-employee", "employee"], ["#f-sender", "sender_hash"], ["#f-q", "q"]]) {
      const v = $(id).value.trim();
      if (v) p.set(name, v);
    }
    const from = localToISO($("#f-from").value), to = localToISO($("#f-to").value);
    if (from) p.set("from", from);
    if (to) p.set("to", to);
    if ($("#f-inhibited").checked) p.set("inhibited", "true");
    if ($("#f-silenced").checked) p.set("silenced", "true");
    if (state.offset) p.set("offset", String(state.offset));
    p.set("limit", String(PAGE));
    return p;
  }

  function incidentTitle(inc) {
    const senders = inc.senders || [];
    if (inc.campaign) return `Campaign ${inc.campaign} · ${senders.length} number${senders.length === 1 ? "" : "s"}`;
    if (senders.length) {
      const s = senders[0];
      return s.name ? `${s.masked} (${s.name})` : s.masked;
    }
    return inc.group || inc.id;
  }

  async function loadQueue() {
    if (state.busy) return;
    state.busy = true;
    try {
      const { data } = await api("GET", "/api/incidents?" + filterParams().toString());
      state.incidents = data.incidents;
      state.total = data.total;
      renderQueue();
      setText("#queue-updated", "updated " + fmtTime(new Date().toISOString()));
      if (state.open) refreshDetail();
    } catch (e) {
      if (e.status !== 401) flash("Loading the queue failed: " + e.message);
    } finally {
      state.busy = false;
    }
  }

  function renderQueue() {
    const tbody = $("#queue tbody");
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("#queue tbody tr");
    const focusID = focused ? focused.dataset.incidentId : "";
    const rows = state.incidents.map((inc) => {
      const classes = [];
      if (inc.id === state.selected) classes.push("selected");
      if (inc.inhibited_by) classes.push("inhibited");
      if (inc.alert_count > 0 && inc.silenced_count === inc.alert_count) classes.push("silenced");
      const title = inc.campaign || !(inc.senders && inc.senders.length) ? incidentTitle(inc) : inc.senders[0].masked;
      const open = el("button", { type: "button", class: "open-link", "aria-label": "Open incident " + incidentTitle(inc), onclick: (ev) => { ev.stopPropagation(); select(inc.id, true); } },
        title);
      const emps = (inc.employees || []).length;
      const sub = [];
      if (!inc.campaign && inc.senders && inc.senders[0] && inc.senders[0].name) sub.push(inc.senders[0].name);
      sub.push(`${emps} employee${emps === 1 ? "" : "s"}`);
      if (inc.inhibited_by) sub.push("covered by a campaign");
      if (inc.alert_count > 0 && inc.silenced_count === inc.alert_count) sub.push("silenced");
      const tr = el("tr", { class: classes.join(" "), dataset: { incidentId: inc.id }, "aria-selected": inc.id === state.selected ? "true" : "false" },
        el("td", {}, sevBadge(inc.severity)),
        el("td", { class: "status" }, statusBadge(inc.status)),
        el("td", { class: "incident" }, open, el("span", { class: "sub", text: sub.join(" · ") }), el("span", { class: "sub mono", text: inc.id })),
        el("td", {}, (inc.categories || []).map((c) => el("span", { class: "tag", text: c }))),
        el("td", { class: "num", text: String(inc.alert_count) }),
        el("td", { class: "nowrap", title: fmtTime(inc.last_seen), text: ago(inc.last_seen) }),
        el("td", { class: "clip", text: inc.owner || "" }));
      tr.addEventListener("click", () => select(inc.id, true));
      return tr;
    });
    tbody.replaceChildren(...rows);
    if (!rows.length) {
      tbody.append(el("tr", {}, el("td", { colspan: "7", class: "muted", text: "No incidents match these filters." })));
    }
    const end = Math.min(state.offset + state.incidents.length, state.total);
    setText("#queue-count", state.total ? `${state.offset + 1}–${end} of ${state.total} incidents` : "0 incidents");
    $("#prev-page").disabled = state.offset === 0;
    $("#next-page").disabled = end >= state.total;
    if (focusID) {
      const again = rowFor(focusID);
      if (again) again.querySelector("button").focus();
    }
  }

  function rowFor(id) {
    for (const tr of document.querySelectorAll("#queue tbody tr[data-incident-id]")) {
      if (tr.dataset.incidentId === id) return tr;
    }
    return null;
  }

  function select(id, open) {
    state.selected = id;
    for (const tr of document.querySelectorAll("#queue tbody tr[data-incident-id]")) {
      const on = tr.dataset.incidentId === id;
      tr.classList.toggle("selected", on);
      tr.setAttribute("aria-selected", on ? "true" : "false");
      if (on) tr.scrollIntoView({ block: "nearest" });
    }
    if (open) {
      const h = "#queue/" + encodeURIComponent(id);
      if (location.hash !== h) history.replaceState(null, "", h);
      openIncident(id, true);
    }
  }

  function move(delta) {
    const rows = [...document.querySelectorAll("#queue tbody tr[data-incident-id]")];
    if (!rows.length) return;
    let i = rows.findIndex((r) => r.dataset.incidentId === state.selected);
    i = i < 0 ? 0 : Math.max(0, Math.min(rows.length - 1, i + delta));
    select(rows[i].dataset.incidentId, false);
    rows[i].querySelector("button").focus();
  }

  // ---- detail ------------------------------------------------------------

  async function openIncident(id, focus) {
    state.open = id;
    state.selected = id;
    setText("#resolve-result", "");
    $("#resolve-result").className = "";
    $("#owner").value = "";
    $("#note-text").value = "";
    $("#resolve-comment").value = "";
    $("#verdict").value = "";
    await refreshDetail();
    if (focus && !$("#detail").hidden) $("#detail").focus();
  }

  async function refreshDetail() {
    const id = state.open;
    if (!id) return;
    try {
      const { data } = await api("GET", "/api/incidents/" + encodeURIComponent(id));
      if (state.open !== id) return;
      state.detail = data;
      renderDetail(data);
    } catch (e) {
      if (e.status === 404) { flash(`Incident ${id} was not found (it may have expired).`); closeDetail(); }
      else if (e.status !== 401) flash("Loading the incident failed: " + e.message);
    }
  }

  function closeDetail() {
    state.open = "";
    state.detail = null;
    $("#detail").hidden = true;
    if (location.hash.startsWith("#queue/")) history.replaceState(null, "", "#queue");
    const tr = rowFor(state.selected);
    if (tr) tr.querySelector("button").focus();
  }

  function renderDetail(d) {
    const inc = d.incident;
    $("#detail").hidden = false;
    setText("#detail-title", incidentTitle(inc));
    statusBadge(inc.status, $("#detail-status"));
    const pending = $("#detail-pending");
    if (inc.pending_verdict) {
      pending.hidden = false;
      pending.textContent = `verdict "${inc.pending_verdict.verdict}" by ${inc.pending_verdict.analyst} is waiting for a second analyst`;
    } else {
      pending.hidden = true;
      pending.textContent = "";
    }
    $("#detail-severity").replaceChildren(sevBadge(inc.severity));
    setText("#detail-owner", inc.owner || "unassigned");
    setText("#detail-alert-count", inc.alert_count);
    setText("#detail-silenced", inc.silenced_count ? `(${inc.silenced_count} silenced)` : "");
    setText("#detail-seen", `${fmtTime(inc.first_seen)} → ${fmtTime(inc.last_seen)}`);
    setText("#detail-group", inc.group);
    $("#detail-senders").replaceChildren(...(inc.senders || []).map((s) =>
      el("li", {}, el("strong", { text: s.masked }), s.name ? ` ${s.name}` : "", el("span", { class: "sub mono", text: s.hash }))));
    setText("#detail-employees", (inc.employees || []).join(", "));
    $("#detail-categories").replaceChildren(...(inc.categories || []).map((c) => el("span", { class: "tag", text: c })));
    setText("#detail-rules", (inc.rules || []).join(", "));
    $("#detail-inhibited-row").hidden = !inc.inhibited_by;
    $("#detail-inhibited").replaceChildren(inc.inhibited_by ? incidentLink(inc.inhibited_by, inc.inhibited_by) : "");
    const r = inc.resolution;
    $("#detail-resolution-row").hidden = !r;
    setText("#detail-resolution", r ? `${r.verdict} by ${[r.analyst].concat(r.approved_by || []).join(" + ")} at ${fmtTime(r.at)}${r.comment ? ": " + r.comment : ""}` : "");

    const canChange = state.me && state.me.role !== "viewer";
    const resolved = inc.status === "resolved";
    $("#ack").disabled = !canChange || inc.status !== "open";
    for (const id of ["#assign", "#owner", "#resolve", "#verdict", "#resolve-comment"]) $(id).disabled = !canChange || resolved;
    if (!$("#owner").value && document.activeElement !== $("#owner")) $("#owner").placeholder = inc.owner || "owner";
    $("#silence-campaign").hidden = !inc.campaign;

    $("#covered-section").hidden = !(d.covered && d.covered.length);
    $("#detail-covered").replaceChildren(...(d.covered || []).map((c) =>
      el("li", {}, incidentLink(c.id, incidentTitle(c)), ` · ${c.alert_count} alert${c.alert_count === 1 ? "" : "s"} · `, statusBadge(c.status))));

    $("#timeline").replaceChildren(...d.alerts.map((sa) => {
      const a = sa.alert;
      return el("li", { class: sa.silenced_by ? "silenced" : "" },
        el("div", {},
          el("span", { class: "when", text: fmtTime(a.event_time) }), " ",
          sevBadge(a.severity), " ",
          el("span", { text: `${a.event_kind} to ${a.employee || "?"} from ${a.sender || "no number"}${a.sender_name ? " (" + a.sender_name + ")" : ""}` }),
          sa.silenced_by ? el("span", { class: "muted", text: ` · silenced by ${sa.silenced_by}` }) : "",
          sa.incident_id !== d.incident.id ? el("span", { class: "muted", text: ` · via ${sa.incident_id}` }) : ""),
        el("div", {}, (a.categories || []).map((c) => el("span", { class: "tag", text: c })),
          el("span", { class: "muted", text: `score ${Number(a.score).toFixed(2)}` })),
        el("ul", { class: "reasons" }, (a.reasons || []).map((rs) =>
          el("li", {}, el("span", { class: "mono", text: rs.rule }), ` (${rs.category}, ${rs.weight}${rs.shadow ? ", shadow" : ""})`,
            rs.evidence ? el("span", { class: "evidence", text: rs.evidence }) : ""))));
    }));

    $("#detail-notes").replaceChildren(...(inc.notes || []).map((n) =>
      el("li", {}, el("strong", { text: n.author }), el("span", { class: "muted", text: " " + fmtTime(n.at) }), el("div", { text: n.text }))));
    if (!(inc.notes || []).length) $("#detail-notes").append(el("li", { class: "muted", text: "No notes yet." }));
  }

  function incidentLink(id, label) {
    return el("a", { href: "#queue/" + encodeURIComponent(id), onclick: (ev) => { ev.preventDefault(); select(id, true); }, text: label });
  }

  async function act(label, fn) {
    const out = $("#resolve-result");
    try {
      const res = await fn();
      await loadQueue();
      await refreshDetail();
      return res;
    } catch (e) {
      out.className = "err";
      out.textContent = `${label} failed: ${e.message}`;
      return null;
    }
  }

  function incPath(suffix) { return "/api/incidents/" + encodeURIComponent(state.open) + "/" + suffix; }

  function acknowledge() {
    if (!state.open || $("#ack").disabled) return;
    act("Acknowledge", async () => {
      await api("POST", incPath("acknowledge"));
      const out = $("#resolve-result");
      out.className = "ok"; out.textContent = "Acknowledged.";
    });
  }

  function assign() {
    const owner = $("#owner").value.trim();
    act("Assign", async () => {
      await api("POST", incPath("assign"), { owner });
      const out = $("#resolve-result");
      out.className = "ok"; out.textContent = owner ? `Assigned to ${owner}.` : "Unassigned.";
      $("#owner").value = "";
    });
  }

  function addNote() {
    const text = $("#note-text").value;
    if (!text.trim()) { $("#note-text").focus(); return; }
    act("Adding the note", async () => {
      await api("POST", incPath("notes"), { text });
      $("#note-text").value = "";
      const out = $("#resolve-result");
      out.className = "ok"; out.textContent = "Note added.";
    });
  }

  function resolve() {
    const verdict = $("#verdict").value;
    const out = $("#resolve-result");
    if (!verdict) { out.className = "err"; out.textContent = "Choose a verdict first."; $("#verdict").focus(); return; }
    const comment = $("#resolve-comment").value;
    act("Resolving", async () => {
      const { status, data } = await api("POST", incPath("resolve"), { verdict, comment });
      if (status === 202 || data.pending) {
        out.className = "warn";
        out.textContent = "Waiting for a second analyst: " + (data.reason || "this verdict needs another analyst's approval.");
      } else {
        out.className = "ok";
        out.textContent = `Resolved as ${verdict}; ${data.feedback} feedback record${data.feedback === 1 ? "" : "s"} sent to the detector.` + (data.reason ? " " + data.reason : "");
        $("#resolve-comment").value = "";
      }
    });
  }

  // ---- silences ----------------------------------------------------------

  function matcherRow(name, value) {
    const row = el("div", { class: "matcher" });
    const sel = el("select", { "aria-label": "Matcher field" }, MATCHERS.map((m) => el("option", { value: m, text: m })));
    sel.value = oneOf(name, MATCHERS, "sender_hash");
    const input = el("input", { type: "text", "aria-label": "Matcher value", spellcheck: "false", required: true });
    input.value = value || "";
    const remove = el("button", { type: "button", class: "quiet", "aria-label": "Remove this matcher", text: "remove",
      onclick: () => { if (document.querySelectorAll("#matchers .matcher").length > 1) row.remove(); } });
    row.append(el("label", {}, "Field", sel), el("label", {}, "equals", input), remove);
    return row;
  }

  function prefillSilence(matchers, comment) {
    $("#matchers").replaceChildren(...matchers.map((m) => matcherRow(m.name, m.value)));
    $("#silence-comment").value = comment;
    setText("#silence-error", "");
    location.hash = "#silences";
    setTimeout(() => $("#silence-comment").focus(), 0);
  }

  async function loadSilences() {
    if (!$("#matchers").children.length) $("#matchers").append(matcherRow("sender_hash", ""));
    try {
      const ended = $("#silences-ended").checked ? "?ended=true" : "";
      const { data } = await api("GET", "/api/silences" + ended);
      const now = Date.now();
      const canChange = state.me.role !== "viewer";
      $("#silences tbody").replaceChildren(...data.map((s) => {
        const starts = new Date(s.starts_at).getTime(), ends = new Date(s.ends_at).getTime();
        const st = ends <= now ? (s.expired_by ? `expired by ${s.expired_by}` : "ended") : starts > now ? "pending" : "active";
        const expire = el("button", { type: "button", class: "quiet", "aria-label": "Expire silence " + s.id, text: "Expire",
          onclick: () => expireSilence(s.id) });
        expire.disabled = !canChange || ends <= now;
        return el("tr", { dataset: { silenceId: s.id } },
          el("td", { text: st }),
          el("td", {}, s.matchers.map((m) => el("div", { class: "mono", text: `${m.name} = ${m.value}` }))),
          el("td", { text: fmtTime(s.starts_at) }),
          el("td", { text: fmtTime(s.ends_at) }),
          el("td", { text: s.created_by }),
          el("td", { text: s.comment }),
          el("td", {}, expire));
      }));
      if (!data.length) $("#silences tbody").append(el("tr", {}, el("td", { colspan: "7", class: "muted", text: "No silences." })));
    } catch (e) {
      if (e.status !== 401) flash("Loading silences failed: " + e.message);
    }
  }

  async function createSilence(ev) {
    ev.preventDefault();
    const matchers = [...document.querySelectorAll("#matchers .matcher")].map((row) => ({
      name: row.querySelector("select").value, value: row.querySelector("input").value.trim(),
    }));
    try {
      await api("POST", "/api/silences", { matchers, duration: $("#silence-duration").value, comment: $("#silence-comment").value });
      setText("#silence-error", "");
      $("#silence-comment").value = "";
      $("#matchers").replaceChildren(matcherRow("sender_hash", ""));
      flash("Silence created.");
      loadSilences();
    } catch (e) {
      setText("#silence-error", e.message);
    }
  }

  async function expireSilence(id) {
    try {
      await api("POST", "/api/silences/" + encodeURIComponent(id) + "/expire");
      flash(`Silence ${id} expired.`);
      loadSilences();
    } catch (e) {
      flash(`Expiring ${id} failed: ${e.message}`);
    }
  }

  // ---- rules and audit ---------------------------------------------------

  async function loadRules() {
    const p = new URLSearchParams();
    const from = $("#rules-from").value, to = $("#rules-to").value;
    if (from) p.set("from", from + "T00:00:00Z");
    if (to) p.set("to", to + "T23:59:59Z");
    try {
      const { data } = await api("GET", "/api/rules/stats" + (p.toString() ? "?" + p : ""));
      $("#rule-stats tbody").replaceChildren(...data.map((s) => el("tr", { dataset: { rule: s.rule } },
        el("td", { class: "mono", text: s.rule }),
        el("td", { class: "num", text: String(s.hits) }),
        el("td", { class: "num", text: String(s.fraud) }),
        el("td", { class: "num", text: String(s.legit) }),
        el("td", { class: "num", text: String(s.unsure) }),
        el("td", { class: "num", text: s.precision < 0 ? "—" : (100 * s.precision).toFixed(1) + " %" }))));
      if (!data.length) $("#rule-stats tbody").append(el("tr", {}, el("td", { colspan: "6", class: "muted", text: "No rule fired in this period." })));
    } catch (e) {
      if (e.status !== 401) flash("Loading rule statistics failed: " + e.message);
    }
  }

  async function loadAudit() {
    const p = new URLSearchParams();
    const since = localToISO($("#audit-since").value);
    if (since) p.set("since", since);
    p.set("limit", String(Math.max(1, Math.min(1000, Number($("#audit-limit").value) || 200))));
    try {
      const { data } = await api("GET", "/api/audit?" + p);
      const json = (v) => v === undefined ? "" : JSON.stringify(v, null, 1);
      $("#audit tbody").replaceChildren(...data.map((e) => el("tr", { dataset: { auditId: e.id } },
        el("td", { text: fmtTime(e.at) }),
        el("td", { text: e.actor }),
        el("td", { text: e.role }),
        el("td", { class: "mono", text: e.action }),
        el("td", { class: "mono", text: e.target }),
        el("td", {}, el("details", {}, el("summary", { text: "before / after" }),
          el("pre", { class: "json", text: "before: " + json(e.before) + "\nafter: " + json(e.after) }))))));
      if (!data.length) $("#audit tbody").append(el("tr", {}, el("td", { colspan: "6", class: "muted", text: "No entries." })));
    } catch (e) {
      if (e.status !== 401) flash("Loading the audit log failed: " + e.message);
    }
  }

  // ---- polling and keys --------------------------------------------------

  function startPolling() {
    clearInterval(state.timer);
    state.timer = setInterval(() => {
      if (document.hidden || !state.me) return;
      if (state.view === "queue") loadQueue();
    }, POLL_MS);
  }

  function typing(t) {
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  function onKey(ev) {
    if (!state.me || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "Escape" && state.view === "queue" && state.open && !$("#shortcuts").open) { closeDetail(); return; }
    if (typing(ev.target)) return;
    if (ev.key === "?") { ev.preventDefault(); toggleShortcuts(); return; }
    if (state.view !== "queue") return;
    switch (ev.key) {
      case "j": ev.preventDefault(); move(1); break;
      case "k": ev.preventDefault(); move(-1); break;
      case "Enter":
        if (ev.target.closest && ev.target.closest("button, a")) return; // the control handles it
        if (state.selected) { ev.preventDefault(); select(state.selected, true); }
        break;
      case "a": ev.preventDefault(); acknowledge(); break;
      case "r":
        if (state.open && !$("#verdict").disabled) { ev.preventDefault(); $("#verdict").focus(); }
        break;
      case "/": ev.preventDefault(); $("#f-q").focus(); break;
    }
  }

  function toggleShortcuts() {
    const d = $("#shortcuts");
    if (d.open) d.close(); else d.showModal();
  }

  // ---- wiring ------------------------------------------------------------

  function init() {
    const cat = $("#f-category");
    for (const c of CATEGORIES) cat.append(el("option", { value: c, text: c }));

    $("#login-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const token = $("#token").value.trim();
      if (!token) return;
      setText("#login-error", "");
      try {
        await signIn(token);
        $("#token").value = "";
      } catch (e) {
        state.token = ""; state.me = null;
        setText("#login-error", e.status === 401 ? "This token is not accepted." : e.message);
      }
    });
    $("#logout").addEventListener("click", () => signOut(""));
    $("#shortcuts-open").addEventListener("click", toggleShortcuts);

    $("#filters").addEventListener("submit", (ev) => { ev.preventDefault(); state.offset = 0; loadQueue(); });
    $("#filters").addEventListener("reset", () => setTimeout(() => { state.offset = 0; loadQueue(); }, 0));
    $("#filters").addEventListener("change", (ev) => {
      if (ev.target.type === "checkbox" || ev.target.tagName === "SELECT") { state.offset = 0; loadQueue(); }
    });
    $("#prev-page").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); loadQueue(); });
    $("#next-page").addEventListener("click", () => { state.offset += PAGE; loadQueue(); });

    $("#detail-close").addEventListener("click", closeDetail);
    $("#ack").addEventListener("click", acknowledge);
    $("#assign").addEventListener("click", assign);
    $("#note").addEventListener("click", addNote);
    $("#resolve").addEventListener("click", resolve);
    $("#silence-sender").addEventListener("click", () => {
      const inc = state.detail && state.detail.incident;
      if (!inc) return;
      const senders = inc.senders || [];
      const ms = senders.length ? senders.map((s) => ({ name: "sender_hash", value: s.hash })).slice(0, 1) : [{ name: "employee", value: (inc.employees || [])[0] || "" }];
      prefillSilence(ms, `Judged in ${inc.id}`);
    });
    $("#silence-campaign").addEventListener("click", () => {
      const inc = state.detail && state.detail.incident;
      if (inc && inc.campaign) prefillSilence([{ name: "campaign", value: inc.campaign }], `Judged in ${inc.id}`);
    });

    $("#add-matcher").addEventListener("click", () => $("#matchers").append(matcherRow("sender_hash", "")));
    $("#silence-form").addEventListener("submit", createSilence);
    $("#silences-ended").addEventListener("change", loadSilences);
    $("#rules-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadRules(); });
    $("#audit-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadAudit(); });

    window.addEventListener("hashchange", route);
    document.addEventListener("keydown", onKey);
    document.addEventListener("visibilitychange", () => { if (!document.hidden && state.me && state.view === "queue") loadQueue(); });

    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) {
      signIn(saved).catch(() => signOut("Sign in again."));
    } else {
      showView("login");
      $("#token").focus();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
