/* The supervisor view: every counter, queues per service, tickets over target, printers, the audit
   trail; acting for a counter and reassigning its services. */
"use strict";

(function () {
  const N = window.Novbe;
  const BOOT = JSON.parse(document.getElementById("supervisor-boot").textContent);
  const KIOSK_PRINTERS = BOOT.kiosk_printers;
  const $ = (id) => document.getElementById(id);
  let selected = Number(sessionStorage.getItem("novbe.sup.counter")) || null;
  let tab = "queues";
  let auditTimer = null;
  let auditDay = null;       // the audit's day (YYYY-MM-DD); null: today, following the hall live
  let auditAsked = 0;        // counts the audit's requests: only the latest one's answer is drawn

  const desk = N.Desk($("act"), { compact: true });

  /** A code in the reader's language (``prefix + code`` in the texts), or the code itself if it has none. */
  function named(prefix, code) {
    if (code == null || code === "") return "";
    const s = N.t(prefix + code);
    return s === prefix + code ? String(code) : s;
  }
  /** One audit row's "what happened", in words: the event and what it changed. */
  function eventText(e) {
    const what = named("ev_", e.event);
    const more = [];
    if (e.event === "counter-changed" && e.state) {
      more.push(named("state_", e.state));
      if (e.state === "paused" && e.reason) more.push(window.novbePauseReason(e.reason, N.lang));
    }
    if (e.event === "ticket-finished" && e.outcome) more.push(N.outcome(e.outcome));
    if (e.event === "ticket-transferred" && e.to_counter != null) more.push(N.t("to_counter_n", { n: e.to_counter }));
    if (e.change) more.push(named("adm_change_", e.change));
    if (e.username) more.push(e.username + (e.role ? ` (${named("role_", e.role)})` : ""));
    if (e.device) more.push(`${named("dev_kind_", e.kind)} ${e.device}`);
    return more.length ? `${what}: ${more.join(" · ")}` : what;
  }
  /** The header's "who · role", with the role in the page's language. */
  function showUser() {
    N.showUser();
    if (N.user) $("who").textContent = `${N.user.username} · ${named("role_", N.user.role)}`;
  }

  function show(view) {
    for (const v of ["login-view", "forbidden-view", "sup-view"]) $(v).hidden = v !== view;
  }

  function nowCell(c) {
    const t = c.ticket;
    if (t) {
      const since = t.status === "serving" && t.started_at ? t.started_at : t.called_at;
      return `<b class="num">${N.esc(t.number)}</b> <span class="badge ${t.status}">${N.esc(N.t("status_" + t.status))}</span>
        <span class="svc">${N.esc(N.serviceName(t.service, t.service_name))}</span> <span class="timer-sm" data-since="${since}">${N.fmtDuration(N.serverNow() - since)}</span>`;
    }
    if (c.state === "paused") {
      return `<span class="why">${N.esc(N.t("paused_why", { reason: window.novbePauseReason(c.reason, N.lang) }))}</span> <span class="timer-sm" data-since="${c.since}">${N.fmtDuration(N.serverNow() - c.since)}</span>`;
    }
    if (c.state === "open") {
      return `<span class="idle">${N.esc(N.t("idle_since", { t: N.fmtClock(c.since) }))}</span> <span class="timer-sm" data-since="${c.since}">${N.fmtDuration(N.serverNow() - c.since)}</span>`;
    }
    return `<span class="muted">—</span>`;
  }

  function renderCounters(snap) {
    // The rows are patched in place, so a focused row keeps the focus; this finds it again should it be replaced.
    const focused = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("#counters tr[data-counter]") : null;
    const keep = focused ? focused.dataset.counter : null;
    drawCounters(snap);
    if (keep) {
      const row = $("counters").querySelector(`tr[data-counter="${keep}"]`);
      if (row) row.focus();
    }
  }

  function drawCounters(snap) {
    // Patched in place (N.morph): a row pressed while a snapshot arrives is still clicked, and keeps the focus.
    N.morph($("counters").querySelector("tbody"), snap.counters.map((c) => {
      // a counter with no daily limit (daily_limit = 0 in the center file) shows "/—", named in its title
      const limit = `${c.handled_today}/${c.daily_limit || "—"}`;
      const limitTitle = `${N.t("daily_limit")}: ${c.daily_limit || N.t("no_limit")}`;
      const full = c.daily_limit && c.handled_today >= c.daily_limit;
      return `<tr data-counter="${c.number}" tabindex="0" aria-current="${c.number === selected ? "true" : "false"}" class="${c.number === selected ? "sel" : ""} st-${c.state}">
        <td><b>${N.esc(N.counterName(c))}</b></td>
        <td><span class="badge ${c.state}">${N.esc(N.t("state_" + c.state))}</span></td>
        <td>${N.esc(c.operator || "")}</td>
        <td class="now">${nowCell(c)}</td>
        <td class="today"><span title="${N.esc(N.t("served"))}">✓${c.served}</span> <span title="${N.esc(N.t("no_shows"))}">✗${c.no_show}</span>
          <span title="${N.esc(N.t("avg_service"))}">⌀${c.avg_service_minutes == null ? "—" : c.avg_service_minutes}</span>
          <span class="limit ${full ? "alert" : ""}" title="${N.esc(limitTitle)}">${limit}</span></td>
        <td class="q">${c.waiting}</td></tr>`;
    }).join(""));
  }

  function renderTotals(snap) {
    const tot = snap.totals;
    const over = snap.waiting.filter((t) => t.over_target).length;
    const bad = (snap.printers || []).filter((p) => p.state && p.state !== "ok" && p.state !== "online").length;
    // Counted over the kiosks that have a printer: one not heard from yet is not working as far as we know.
    const kiosks = Math.max(KIOSK_PRINTERS.length, (snap.printers || []).length);
    const unheard = KIOSK_PRINTERS.filter((k) => !(snap.printers || []).some((p) => p.name === k)).length;
    const failed = (snap.print_jobs || []).filter((j) => j.status === "failed" || j.status === "held").length;
    const printNotes = [unheard ? N.t("printers_unheard", { n: unheard }) : "", failed ? N.t("print_failed_n", { n: failed }) : ""]
      .filter(Boolean).join(" · ");
    $("totals").innerHTML = `
      <span class="tl">${N.esc(N.t("totals"))}</span>
      <div class="fig"><b>${tot.issued}</b><span>${N.esc(N.t("issued"))}</span></div>
      <div class="fig"><b id="tot-waiting">${tot.waiting}</b><span>${N.esc(N.t("in_queue"))}</span></div>
      <div class="fig"><b>${tot.served}</b><span>${N.esc(N.t("served"))}</span></div>
      <div class="fig"><b>${tot.no_show}</b><span>${N.esc(N.t("no_shows"))}</span></div>
      <div class="fig"><b>${tot.cancelled}</b><span>${N.esc(N.t("cancelled"))}</span></div>
      <div class="fig ${over ? "alert" : ""}"><b>${over}</b><span>${N.esc(N.t("over_target"))}</span></div>
      <div class="fig ${bad || failed ? "alert" : ""}" id="tot-printers"><b>${(snap.printers || []).length - bad}/${kiosks}</b><span>${N.esc(N.t("printers_tile"))}</span>${printNotes ? `<small>${N.esc(printNotes)}</small>` : ""}</div>`;
    $("over-count").textContent = over ? String(over) : "";
  }

  // The hall forecast: minutes until a call (null: no open counter will call it) and the counter.
  function forecast(m) {
    return m == null ? N.t("fc_no_counter") : m < 1 ? N.t("fc_now") : N.t("fc_minutes", { m });
  }
  function forecastChips(snap, service) {
    const mine = snap.waiting.filter((t) => t.service === service)
      .sort((a, b) => (a.eta_minutes ?? Infinity) - (b.eta_minutes ?? Infinity));
    return mine.map((t) => {
      // No figure but a counter held for it: only that counter, not opened though it was due, would call it;
      // name it, so the supervisor sees which counter to open (no counter at all: none will call it today).
      const standby = t.eta_minutes == null && t.forecast_counter != null;
      const title = standby ? N.t("fc_ticket_standby", { number: t.number, counter: t.forecast_counter })
        : t.eta_minutes == null ? N.t("fc_ticket_none", { number: t.number })
        : N.t("fc_ticket", { number: t.number, m: t.eta_minutes, counter: t.forecast_counter ?? "—" });
      const shown = standby ? N.t("fc_standby", { counter: t.forecast_counter })
        : forecast(t.eta_minutes) + (t.forecast_counter != null ? ` → ${t.forecast_counter}` : "");
      return `<span class="fc-chip${t.eta_minutes == null ? " none" : ""}" data-number="${N.esc(t.number)}"
        data-eta="${t.eta_minutes ?? ""}" data-counter="${t.forecast_counter ?? ""}" title="${N.esc(title)}"><b>${N.esc(t.number)}</b>
        ${N.esc(shown)}</span>`;
    }).join("");
  }

  function renderTabs(snap) {
    // Queue length, longest wait and the forecast per service; each waiting ticket's forecast under it.
    $("tab-queues").innerHTML = snap.services.length ? `<table class="grid queues"><thead><tr>
        <th>${N.esc(N.t("col_service"))}</th><th>${N.esc(N.t("col_waiting"))}</th><th>${N.esc(N.t("col_longest"))}</th><th>${N.esc(N.t("col_target"))}</th>
        <th>${N.esc(N.t("col_new_ticket"))}</th></tr></thead><tbody>
        ${snap.services.slice().sort((a, b) => b.over_target - a.over_target || b.longest_wait_minutes - a.longest_wait_minutes).map((s) => `
          <tr class="${s.over_target ? "over" : ""}" data-service="${N.esc(s.service)}"><td><b>${N.esc(s.service)}</b> ${N.esc(N.name(s.name))}</td><td class="q">${s.waiting}</td>
          <td class="n">${N.esc(N.t("minutes_short", { m: Math.round(s.longest_wait_minutes) }))}</td><td class="n">${N.esc(N.t("minutes_short", { m: s.target_wait }))}</td>
          <td class="n new-wait${s.new_ticket_wait == null ? " alert" : ""}">${N.esc(forecast(s.new_ticket_wait))}</td></tr>
          <tr class="fc-row" data-service="${N.esc(s.service)}"><td colspan="5">${forecastChips(snap, s.service)}</td></tr>`).join("")}
        </tbody></table>` : `<p class="muted">${N.esc(N.t("nobody_waiting"))}</p>`;
    // Tickets over their target wait.
    const over = snap.waiting.filter((t) => t.over_target);
    $("tab-over").innerHTML = over.length ? `<ul class="list waiting">${over.map((t) => `
        <li class="over"><b class="num">${N.esc(t.number)}</b><span class="svc">${N.esc(N.serviceName(t.service, t.service_name))}
          ${t.priority ? `<br><span class="prio-mark">★ ${N.esc(N.groupName(t.priority))}</span>` : ""}</span>
          <span class="wait" data-wait-since="${t.issued_at}">${N.esc(N.t("waited", { m: N.minutesSince(t.issued_at) }))}</span></li>`).join("")}</ul>`
      : `<p class="muted">${N.esc(N.t("none"))}</p>`;
    // Printers and print jobs. A job names its ticket's kiosk first: kiosks may share a printer address
    // (the shipped centers' dummy://), and the address stays beside it for whoever fixes the printer.
    const printers = snap.printers || [], jobs = snap.print_jobs || [];
    // Patched in place, each job's row kept by its id: a "reprint" pressed while a snapshot arrives still prints.
    N.morph($("tab-printers"), `
      <table class="grid printers"><thead><tr><th>${N.esc(N.t("col_kiosk_printer"))}</th><th>${N.esc(N.t("col_status"))}</th>
        <th>${N.esc(N.t("col_details"))}</th><th>${N.esc(N.t("col_last_seen"))}</th><th>${N.esc(N.t("col_error"))}</th></tr></thead>
      <tbody>${printers.map((p) => `<tr class="${p.state === "ok" || p.state === "online" ? "" : "over"}">
        <td><b>${N.esc(p.name)}</b> <span class="muted">${N.esc(p.url)}</span></td><td class="pstate" data-state="${N.esc(p.state)}">${N.esc(named("printer_state_", p.state))}</td><td>${N.esc(p.detail || "")}</td><td>${N.esc(N.fmtClock(p.updated_at))}</td>
        <td class="err last-error">${p.last_error ? `${N.esc(N.fmtClock(p.last_error_at))} ${N.esc(p.last_error)}` : ""}</td></tr>`).join("")
        + KIOSK_PRINTERS.filter((k) => !printers.some((p) => p.name === k)).map((k) => `<tr class="unheard" data-kiosk="${N.esc(k)}">
          <td><b>${N.esc(k)}</b></td><td class="pstate muted" colspan="4">${N.esc(N.t("printer_not_heard"))}</td></tr>`).join("")
        || `<tr><td class="muted">${N.esc(N.t("none"))}</td></tr>`}</tbody></table>
      <h3>${N.esc(N.t("print_jobs"))}</h3>
      <table class="grid print-jobs">${jobs.length ? `<thead><tr><th>${N.esc(N.t("col_time"))}</th><th>${N.esc(N.t("col_ticket"))}</th>
        <th>${N.esc(N.t("col_kiosk_printer"))}</th><th>${N.esc(N.t("col_status"))}</th><th>${N.esc(N.t("col_error"))}</th>
        <th><span class="sr-only">${N.esc(N.t("col_actions"))}</span></th></tr></thead>` : ""}
        <tbody>${jobs.map((j) => `<tr data-job="${j.id}" class="${j.status === "failed" || j.status === "held" ? "over" : ""}">
        <td class="n">${N.esc(N.fmtClock(j.created_at))}</td><td class="n"><b>${N.esc(j.number)}</b></td>
        <td class="jkiosk">${j.kiosk ? `<b>${N.esc(j.kiosk)}</b> <span class="muted">${N.esc(j.printer)}</span>` : N.esc(j.printer)}</td>
        <td class="jstate" data-status="${N.esc(j.status)}">${N.esc(named("job_", j.status))}${j.attempts > 1 ? ` <small class="muted">${N.esc(N.t("job_attempts", { n: j.attempts }))}</small>` : ""}</td><td class="err">${N.esc(j.error || "")}</td>
        <td>${j.status === "failed" || j.status === "printed" || j.status === "held" ? `<button type="button" class="btn tiny" data-reprint="${j.id}"
          aria-label="${N.esc(N.t("reprint_label", { n: j.number }))}">${N.esc(N.t("reprint"))}</button>` : ""}</td></tr>`).join("")
        || `<tr><td class="muted">${N.esc(N.t("none"))}</td></tr>`}</tbody></table>`);
  }

  // --- the audit, one day at a time ---------------------------------------------------------
  /* The center's today, from the server's clock in the center's zone (the page may stay open past midnight). */
  const today = () => (N.live.snap ? new Date(N.serverNow() * 1000).toLocaleDateString("en-CA", { timeZone: BOOT.tz })
    : BOOT.today);   // the server's clock is known once a snapshot came (it may be shifted: NOVBE_CLOCK_OFFSET)
  /* Days are typed and shown as dd.mm.yyyy, as on the reports page, whatever the page's language. */
  const dmy = (s) => (s ? `${s.slice(8, 10)}.${s.slice(5, 7)}.${s.slice(0, 4)}` : "");
  function fromTyped(text) {
    const m = /^\s*(\d{1,2})[.\/-](\d{1,2})[.\/-](\d{4})\s*$/.exec(text);
    if (!m) return null;
    const d = new Date(Date.UTC(+m[3], +m[2] - 1, +m[1]));
    return d.getUTCDate() === +m[1] && d.getUTCMonth() === +m[2] - 1 ? d.toISOString().slice(0, 10) : null;
  }
  /** The typed day, or null with the reason shown beside it (the field marked invalid). */
  function typedDay() {
    const input = $("audit-day");
    const day = fromTyped(input.value);
    const why = !day ? N.t("rp_date_invalid", { example: dmy(today()) })
      : day > today() ? N.t("audit_future", { today: dmy(today()) }) : "";
    $("audit-day-error").textContent = why;
    input.setAttribute("aria-invalid", why ? "true" : "false");
    return why ? null : day;
  }
  function showDay() {
    const day = auditDay || today();
    $("audit-day").value = dmy(day);
    $("audit-day").setAttribute("aria-invalid", "false");
    $("audit-day-error").textContent = "";
    $("audit-form").day.value = day;
    $("audit-form").day.max = today();
  }
  function auditLabels() {
    const pick = $("audit-pick");
    pick.title = N.t("rp_pick_date");
    pick.setAttribute("aria-label", `${N.t("rp_pick_date")}: ${N.t("audit_day")}`);
  }

  async function loadAudit() {
    if (tab !== "audit") return;
    const day = auditDay || today();
    const asked = ++auditAsked;
    // today's audit past midnight: the field follows, unless someone is typing in it
    if (!auditDay && document.activeElement !== $("audit-day") && $("audit-form").day.value !== day) showDay();
    try {
      const [r, lf] = await Promise.all([N.api("GET", "/api/audit?day=" + encodeURIComponent(day)),
                                         N.api("GET", "/api/login-failures")]);
      if (asked !== auditAsked) return;      // another day was asked for meanwhile
      // Failed staff logins of the last week (name tried, address): a hammered account shows here.
      const failed = lf.failures.length ? `<h3>${N.esc(N.t("login_failures"))}</h3><table class="grid login-failures"><thead><tr>
        <th>${N.esc(N.t("col_time"))}</th><th>${N.esc(N.t("col_actor"))}</th><th>${N.esc(N.t("col_address"))}</th></tr></thead><tbody>
        ${lf.failures.map((f) => `<tr><td>${N.esc(new Date(f.at * 1000).toLocaleDateString("en-CA", { timeZone: BOOT.tz }))}
          ${N.esc(N.fmtClock(f.at))}</td><td>${N.esc(f.username)}</td><td>${N.esc(f.address)}</td></tr>`).join("")}</tbody></table>` : "";
      // Who: staff by name, anyone else (a kiosk, the citizen, the system, the command line) in words; the code in the title.
      $("audit-body").innerHTML = `${failed}
        <table class="grid audit" data-day="${N.esc(r.day)}"><caption class="sr-only">${N.esc(N.t("audit_of_day", { day: dmy(r.day) }))}</caption>
        <thead><tr><th>${N.esc(N.t("col_time"))}</th><th>${N.esc(N.t("col_event"))}</th>
        <th>${N.esc(N.t("col_actor"))}</th><th>${N.esc(N.t("col_counter"))}</th><th>${N.esc(N.t("col_ticket"))}</th></tr></thead><tbody>
        ${r.events.map((e) => {
          const who = N.actorName(e);
          return `<tr data-event="${N.esc(e.event)}"><td>${N.esc(N.fmtClock(e.at))}</td><td>${N.esc(eventText(e))}</td>
          <td class="actor"${who !== (e.actor || "") ? ` title="${N.esc(e.actor)}"` : ""}>${N.esc(who)}</td>
          <td>${e.counter == null ? "" : e.counter}</td><td><b>${N.esc(e.number || "")}</b></td></tr>`;
        }).join("") || `<tr><td colspan="5" class="muted">${N.esc(N.t("audit_empty", { day: dmy(r.day) }))}</td></tr>`}</tbody></table>`;
    } catch (e) {
      if (asked === auditAsked) N.showError(e);
    }
  }
  function auditSoon() {
    // an earlier day does not change: only today's audit follows the hall
    if (tab !== "audit" || auditTimer || (auditDay && auditDay !== today())) return;
    auditTimer = setTimeout(() => { auditTimer = null; loadAudit(); }, 1000);
  }

  function render() {
    const snap = N.live.snap;
    if (!N.user) { show("login-view"); return; }
    if (!N.isSupervisor()) { show("forbidden-view"); return; }
    show("sup-view");
    if (!snap) return;
    renderTotals(snap);
    renderCounters(snap);
    renderTabs(snap);
    const c = selected != null && snap.counters.find((x) => x.number === selected);
    $("services-btn").hidden = !c;
    $("act-title").textContent = c ? N.t("act_for", { n: c.number }) : N.t("select_counter");
    desk.counter = c ? c.number : null;
    desk.render();
  }

  // --- reassigning a counter's services -------------------------------------------------------
  async function servicesDialog() {
    const snap = N.live.snap;
    const c = snap && snap.counters.find((x) => x.number === selected);
    if (!c) return;
    await N.loadCatalog();
    const dlg = $("services-dialog");
    dlg.querySelector(".dlg-title").textContent = N.t("services_title", { n: c.number });
    N.applyI18n(dlg);
    const current = new Set(c.services);
    dlg.querySelector(".svc-pick").innerHTML = N.catalog.areas.map((a) => {
      const items = N.catalog.services.filter((s) => s.area === a.code).map((s) => `
        <label class="${current.has(s.code) ? "on" : ""}"><input type="checkbox" value="${N.esc(s.code)}" ${current.has(s.code) ? "checked" : ""}>
          <b>${N.esc(s.code)}</b> ${N.esc(N.name(s.name))}</label>`).join("");
      return `<fieldset><legend>${N.esc(N.name(a.name))}</legend>${items}</fieldset>`;
    }).join("");
    const form = dlg.querySelector("form");
    dlg.querySelector("[data-cancel]").onclick = () => dlg.close();
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const ticked = [...form.querySelectorAll("input[type=checkbox]:checked")].map((i) => i.value);
      // Keep the counter's preference order; newly ticked services go last.
      const services = c.services.filter((s) => ticked.includes(s)).concat(ticked.filter((s) => !current.has(s)));
      try {
        await N.api("PUT", `/api/counters/${c.number}/services`, { services });
        dlg.close();
        N.toast(N.t("saved"), "ok");
      } catch (e) {
        N.showError(e);
      } finally {
        N.live.request();
      }
    };
    dlg.showModal();
  }

  // --- wiring ---------------------------------------------------------------------------------
  $("counters").addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr[data-counter]");
    if (!tr) return;
    selected = Number(tr.dataset.counter);
    sessionStorage.setItem("novbe.sup.counter", String(selected));
    render();
  });
  // Counter rows answer the keyboard like the mouse: Enter or Space selects one.
  $("counters").addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter" && ev.key !== " ") return;
    const tr = ev.target.closest("tr[data-counter]");
    if (!tr || ev.target !== tr) return;
    ev.preventDefault();
    tr.click();
  });
  $("services-btn").addEventListener("click", servicesDialog);
  function showTab(b) {
    tab = b.dataset.tab;
    document.querySelectorAll(".tabs button[data-tab]").forEach((x) => {
      x.classList.toggle("on", x === b);
      x.setAttribute("aria-selected", x === b ? "true" : "false");
      x.tabIndex = x === b ? 0 : -1;
    });
    document.querySelectorAll(".tab-body").forEach((body) => { body.hidden = body.id !== "tab-" + tab; });
    loadAudit();
  }
  document.querySelector(".tabs").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-tab]");
    if (b) showTab(b);
  });
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern); Home/End to the first/last.
  document.querySelector(".tabs").addEventListener("keydown", (ev) => {
    const tabs = Array.from(document.querySelectorAll(".tabs button[data-tab]"));
    const i = tabs.indexOf(document.activeElement);
    if (i < 0) return;
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[ev.key];
    if (next === undefined) return;
    ev.preventDefault();
    const b = tabs[(next + tabs.length) % tabs.length];
    b.focus();
    showTab(b);
  });
  $("audit-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const day = typedDay();
    if (!day) { $("audit-day").focus(); return; }
    auditDay = day === today() ? null : day;
    showDay();
    loadAudit();
  });
  $("audit-day").addEventListener("input", () => {
    $("audit-day-error").textContent = "";
    $("audit-day").setAttribute("aria-invalid", "false");
  });
  $("audit-form").day.addEventListener("change", () => {
    const day = $("audit-form").day.value;
    if (!day) return;
    $("audit-day").value = dmy(day);
    $("audit-form").requestSubmit();
  });
  $("audit-pick").addEventListener("click", () => {
    $("audit-form").day.max = today();
    try { $("audit-form").day.showPicker(); } catch (e) { $("audit-day").focus(); }
  });
  $("audit-today").addEventListener("click", () => { auditDay = null; showDay(); loadAudit(); });
  showDay();
  auditLabels();
  $("tab-printers").addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-reprint]");
    if (!b) return;
    b.disabled = true;
    try { await N.api("POST", `/api/print-jobs/${b.dataset.reprint}/reprint`); N.toast(N.t("done_ok"), "ok"); }
    catch (e) { N.showError(e); }
    finally { N.live.request(); }
  });
  $("logout").addEventListener("click", async () => {
    await N.logout();
    N.live.snap = null;
    N.live.seq = -1;
    showUser();
    show("login-view");
  });

  N.live.onSnapshot.push(render);
  N.live.onEvent.push(auditSoon);
  // Print events carry no sequence number (they are not domain events): ask for a fresh view.
  N.live.onEvent.push((name) => { if (/^print/.test(name)) N.live.request(); });
  N.onLang.push(() => { showUser(); render(); auditLabels(); loadAudit(); });
  N.onLoggedOut.push(() => {
    N.user = null;
    if (N.live.socket) { N.live.socket.disconnect(); N.live.socket = null; }
    showUser();
    show("login-view");
  });

  function start() {
    showUser();
    N.live.seq = -1;
    render();
    if (!N.isSupervisor()) return;
    N.loadCatalog().then(render).catch(N.showError);
    N.live.connect();
  }

  N.chrome();
  N.loginForm(start);
  N.me().then((u) => (u ? start() : show("login-view"))).catch((e) => { show("login-view"); N.showError(e); });
})();
