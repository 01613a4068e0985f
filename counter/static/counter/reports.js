/* The reports page (/counter/reports): a period's figures by any grouping, day-by-day trend, the
   services and counters missing their target, arrivals by weekday × hour, the reasons for low ratings.
   Charts by Chart.js (served by the center: /static/vendor/chart.umd.min.js). Today's figures follow
   the hall live: any event on the /counter socket refetches them. */
"use strict";

(function () {
  const N = window.Novbe;
  const BOOT = JSON.parse(document.getElementById("reports-boot").textContent);
  const $ = (id) => document.getElementById(id);
  const form = $("rp-form");
  const FIGS = ["issued", "served", "no_show", "cancelled", "transferred", "refused", "wait_mean", "wait_p50", "wait_p90",
    "wait_max", "service_p50", "service_p90", "within_target", "ratings", "satisfied_share", "response_rate"];
  const TIMES = new Set(["wait_mean", "wait_p50", "wait_p90", "wait_max", "service_p50", "service_p90"]);
  const SHARES = new Set(["within_target", "satisfied_share", "response_rate"]);
  const DAYS = ["rp_mon", "rp_tue", "rp_wed", "rp_thu", "rp_fri", "rp_sat", "rp_sun"];
  let data = null, charts = {}, loading = null, again = false;

  if (window.Chart) {
    Chart.defaults.animation = false;   // printed pages and tests see the final drawing at once
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#24313f";
  }

  // --- helpers -----------------------------------------------------------------------------
  const mmss = (s) => (s == null ? "—" : `${Math.floor(s / 60)}:${String(Math.round(s) % 60).padStart(2, "0")}`);
  const pct = (x) => (x == null ? "—" : `${(x * 100).toFixed(1)}%`);
  const cell = (f, v) => (TIMES.has(f) ? mmss(v) : SHARES.has(f) ? pct(v) : v == null ? "—" : String(v));
  const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  const parse = (s) => { const [y, m, d] = s.split("-").map(Number); return new Date(y, m - 1, d); };

  function label(by, row) {
    const k = row.key;
    if (k === null || k === undefined) return by === "priority" ? N.t("rp_ordinary") : N.t("rp_no_counter");
    if (by === "hour") return `${String(k).padStart(2, "0")}:00`;
    if (by === "counter") return row.name ? `${k} · ${N.name(row.name)}` : `${N.t("rp_by_counter")} ${k}`;
    if (row.name) return by === "service" ? `${k} · ${N.name(row.name)}` : N.name(row.name);
    return String(k);
  }

  function preset(name) {
    const today = parse(BOOT.today);
    let a = new Date(today), b = new Date(today);
    if (name === "week") a.setDate(a.getDate() - ((a.getDay() + 6) % 7));
    else if (name === "month") a.setDate(1);
    else if (name === "last-month") { a = new Date(today.getFullYear(), today.getMonth() - 1, 1); b = new Date(today.getFullYear(), today.getMonth(), 0); }
    else if (name === "year") a = new Date(today.getFullYear() - 1, today.getMonth(), today.getDate() + 1);
    form.from.value = iso(a);
    form.to.value = iso(b);
    showDates();
  }

  /* The dates are typed and shown as dd.mm.yyyy (Azerbaijan's way, in all three languages): the browser's
     own date field would write them in the browser's language (measured: Chromium's 11/01/2026 whatever
     the page's lang or navigator.language), so it is kept only as the calendar picker, out of sight. */
  const dmy = (s) => (s ? `${s.slice(8, 10)}.${s.slice(5, 7)}.${s.slice(0, 4)}` : "");
  function fromTyped(text) {
    const m = /^\s*(\d{1,2})[.\/-](\d{1,2})[.\/-](\d{4})\s*$/.exec(text);
    if (!m) return null;
    const d = new Date(+m[3], +m[2] - 1, +m[1]);
    return d.getDate() === +m[1] && d.getMonth() === +m[2] - 1 ? iso(d) : null;
  }
  function showDates() {
    for (const el of form.querySelectorAll("input[data-date]")) {
      el.value = dmy(form[el.dataset.date].value);
      el.setCustomValidity("");
    }
  }
  function typed(el) {
    const value = fromTyped(el.value);
    if (value) form[el.dataset.date].value = value;
    // the browser then refuses the form with this text, in the page's language (no browser-English tooltip)
    el.setCustomValidity(value ? "" : N.t("rp_date_invalid", { example: dmy(BOOT.today) }));
  }
  function pickLabels() {
    form.querySelectorAll("[data-pick]").forEach((b) => {
      b.title = N.t("rp_pick_date");
      b.setAttribute("aria-label", `${N.t("rp_pick_date")}: ${N.t(b.dataset.pick === "from" ? "rp_from" : "rp_to")}`);
    });
  }

  function query(extra) {
    const q = new URLSearchParams({ from: form.from.value, to: form.to.value, ...extra });
    return q.toString();
  }

  // --- loading -----------------------------------------------------------------------------
  async function load() {
    if (loading) { again = true; return loading; }
    const by = form.by.value;
    const want = { main: by, day: "day", service: "service", counter: "counter" };
    const cache = {};
    const get = (b) => (cache[b] = cache[b] || N.api("GET", "/api/reports?" + query({ by: b })));
    loading = (async () => {
      try {
        const [main, day, service, counter, heat, notes] = await Promise.all([
          get(want.main), get(want.day), get(want.service), get(want.counter),
          N.api("GET", "/api/reports/arrivals?" + query({})), N.api("GET", "/api/reports/comments?" + query({}))]);
        data = { by, main, day, service, counter, heat, notes };
        render();
        document.body.dataset.loaded = String(Date.now());
      } catch (e) {
        N.showError(e);
      } finally {
        loading = null;
        if (again) { again = false; load(); }
      }
    })();
    shown = { from: form.from.value, to: form.to.value, by };
    fileLinks();
    return loading;
  }
  /* The files hold the period and grouping shown, in the page's language now (a switch of language
     redraws without loading again, so the links are made anew then too). */
  let shown = null;
  function fileLinks() {
    if (!shown) return;
    const q = (format) => "/api/reports?" + new URLSearchParams({ ...shown, format, lang: N.lang }).toString();
    $("dl-csv").href = q("csv");
    $("dl-xlsx").href = q("xlsx");
  }

  // --- drawing -----------------------------------------------------------------------------
  function render() {
    if (!data) return;
    const { by, main } = data;
    const byText = N.t("rp_by_" + by);
    $("group-title").textContent = N.t("rp_group_title", { by: byText });
    $("table-title").textContent = N.t("rp_table_title", { by: byText });
    $("print-title").textContent = `${N.t("rp_title")} · ${N.t("rp_period", { from: main.from, to: main.to })} · ${byText}`;
    renderTotals(main);
    renderTable(main);
    renderMisses();
    renderHeat();
    renderComments();
    drawTrend();
    drawGroups();
  }

  function renderTotals(body) {
    const t = body.total;
    const refused = Object.entries(body.refused_by || {}).map(([k, n]) => `${N.t("reason_" + k)} ${n}`).join(", ");
    const fig = (id, value, text, extra) =>
      `<div class="fig" id="${id}"><b>${N.esc(value)}</b><span>${N.esc(text)}</span>${extra ? `<small>${N.esc(extra)}</small>` : ""}</div>`;
    $("rp-totals").innerHTML = [
      fig("tot-issued", t.issued, N.t("rp_issued")),
      fig("tot-served", t.served, N.t("rp_served")),
      fig("tot-no-show", t.no_show, N.t("rp_no_show")),
      fig("tot-wait", `${mmss(t.wait_p50)} / ${mmss(t.wait_p90)}`, `${N.t("rp_wait_p50")} / p90`),
      fig("tot-within", pct(t.within_target), N.t("rp_within_target")),
      fig("tot-satisfied", pct(t.satisfied_share), N.t("rp_satisfaction"),
          N.t("rp_of_ratings", { n: t.ratings, r: pct(t.response_rate) })),
      fig("tot-refused", t.refused, N.t("rp_refused"), refused ? N.t("rp_refused_by", { list: refused }) : ""),
    ].join("");
    $("rp-totals").classList.toggle("live", body.to >= BOOT.today && body.from <= BOOT.today);
    $("rp-totals").title = body.to >= BOOT.today ? N.t("rp_live") : "";
  }

  function renderTable(body) {
    const table = $("rp-table");
    const head = [N.t("rp_key"), ...FIGS.map((f) => N.t("rp_" + f))];
    table.querySelector("thead").innerHTML = `<tr>${head.map((h, i) => `<th${i ? ' class="n"' : ""}>${N.esc(h)}</th>`).join("")}</tr>`;
    const line = (row, name, cls) => `<tr class="${cls || ""}">
      <th scope="row">${N.esc(name)}</th>${FIGS.map((f) => `<td class="n">${N.esc(cell(f, row[f]))}</td>`).join("")}</tr>`;
    const miss = (r) => r.within_target != null && r.within_target < BOOT.target_share;
    table.querySelector("tbody").innerHTML = body.rows.length
      ? body.rows.map((r) => line(r, label(data.by, r), miss(r) ? "miss" : "")).join("")
      : `<tr><td colspan="${head.length}" class="muted">${N.esc(N.t("rp_no_data"))}</td></tr>`;
    table.querySelector("tfoot").innerHTML = line(body.total, N.t("rp_total"), "total");
  }

  function renderMisses() {
    const list = (body, by) => body.rows.filter((r) => r.within_target != null && r.within_target < BOOT.target_share)
      .sort((a, b) => a.within_target - b.within_target).slice(0, 8);
    const services = list(data.service, "service"), counters = list(data.counter, "counter");
    const item = (r, by) => `<li><span class="who">${N.esc(label(by, r))}</span>
      <b class="bad">${pct(r.within_target)}</b> <small>p90 ${mmss(r.wait_p90)} · ${r.served} ${N.esc(N.t("rp_served").toLowerCase())}</small></li>`;
    const block = (title, rows, by) => `<h3>${N.esc(title)}</h3>` +
      (rows.length ? `<ol class="misses">${rows.map((r) => item(r, by)).join("")}</ol>` : `<p class="muted">${N.esc(N.t("rp_none"))}</p>`);
    $("misses").innerHTML = `<p class="hint">${N.esc(N.t("rp_target", { p: pct(BOOT.target_share) }))}</p>` +
      block(N.t("rp_by_service"), services, "service") + block(N.t("rp_by_counter"), counters, "counter");
  }

  function renderHeat() {
    const grid = data.heat.grid;
    let lo = 23, hi = 0, max = 0;
    grid.forEach((row) => row.forEach((n, h) => { if (n) { lo = Math.min(lo, h); hi = Math.max(hi, h); max = Math.max(max, n); } }));
    if (!max) { lo = 9; hi = 17; }
    const hours = [];
    for (let h = lo; h <= hi; h++) hours.push(h);
    const shade = (n) => (n ? "h" + Math.min(5, Math.ceil((n / max) * 5)) : "h0");
    $("heat").innerHTML = `<table class="heat"><thead><tr><th></th>${hours.map((h) => `<th>${String(h).padStart(2, "0")}</th>`).join("")}</tr></thead>
      <tbody>${grid.map((row, d) => `<tr><th scope="row">${N.esc(N.t(DAYS[d]))}</th>${hours.map((h) =>
        `<td class="${shade(row[h])}">${row[h] || ""}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
  }

  function renderComments() {
    const rows = data.notes.comments || [];
    $("comments").innerHTML = rows.length ? `<table class="rp-table small"><thead><tr><th>${N.esc(N.t("rp_by_day"))}</th>
      <th>${N.esc(N.t("rp_by_service"))}</th><th class="n">${N.esc(N.t("rp_score"))}</th><th>${N.esc(N.t("rp_reason"))}</th>
      <th>${N.esc(N.t("rp_comment"))}</th></tr></thead><tbody>${rows.map((c) => `<tr><td>${N.esc(c.day)}</td>
      <td>${N.esc(c.service_name ? `${c.service} · ${N.name(c.service_name)}` : c.service || "")}</td><td class="n">${c.score}</td>
      <td>${N.esc(c.reason_name ? N.name(c.reason_name) : c.reason || "")}</td>
      <td class="comment">${N.esc(c.comment || "")}</td></tr>`).join("")}</tbody></table>` : `<p class="muted">${N.esc(N.t("rp_no_data"))}</p>`;
  }

  function chart(id, config) {
    if (!window.Chart) return;
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart($(id), config);
  }

  function drawTrend() {
    const rows = data.day.rows;
    const minutes = (s) => (s == null ? null : Math.round((s / 60) * 10) / 10);
    chart("chart-trend", {
      data: {
        labels: rows.map((r) => r.key.slice(5)),
        datasets: [
          { type: "bar", label: N.t("rp_served"), data: rows.map((r) => r.served), backgroundColor: "#9dbbe0", yAxisID: "y" },
          { type: "line", label: `${N.t("rp_wait_p50")} (${N.t("rp_minutes")})`, data: rows.map((r) => minutes(r.wait_p50)),
            borderColor: "#0a4a9e", backgroundColor: "#0a4a9e", yAxisID: "y1", spanGaps: true },
          { type: "line", label: `${N.t("rp_wait_p90")} (${N.t("rp_minutes")})`, data: rows.map((r) => minutes(r.wait_p90)),
            borderColor: "#b45309", backgroundColor: "#b45309", borderDash: [6, 4], yAxisID: "y1", spanGaps: true },
          { type: "line", label: `${N.t("rp_satisfied_share")} %`, data: rows.map((r) => (r.satisfied_share == null ? null : r.satisfied_share * 100)),
            borderColor: "#0d6b35", backgroundColor: "#0d6b35", yAxisID: "y2", spanGaps: true },
        ],
      },
      options: {
        maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
        scales: {
          y: { beginAtZero: true, title: { display: true, text: N.t("rp_served") } },
          // The right axes say their unit on every tick: a title there is drawn turned on its side
          // (a short word such as "dəq" then reads as something else).
          y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false },
                ticks: { callback: (v) => `${v} ${N.t("rp_minutes")}` } },
          y2: { min: 0, max: 100, position: "right", grid: { drawOnChartArea: false }, ticks: { callback: (v) => `${v}%` } },
        },
      },
    });
  }

  /* A category label cut with "…" to at most 45 % of the chart's width: Chart.js gives the label axis
     no more than half of it and draws a longer label past the canvas's left edge. The tooltip keeps
     the whole label. Called by Chart.js with the scale as ``this``. */
  function fitLabel(value) {
    const text = this.getLabelForValue(value);
    const room = this.chart.width * 0.45;
    const ctx = this.ctx;
    ctx.save();
    ctx.font = Chart.helpers.toFont(this.options.ticks.font).string;
    let cut = text;
    if (ctx.measureText(cut).width > room) {
      while (cut.length > 1 && ctx.measureText(cut + "…").width > room) cut = cut.slice(0, -1);
      cut = cut.trimEnd() + "…";
    }
    ctx.restore();
    return cut;
  }

  function drawGroups() {
    const by = data.by;
    const rows = by === "hour" || by === "day" ? data.main.rows : data.main.rows.slice().sort((a, b) => b.issued - a.issued).slice(0, 15);
    const share = (x) => (x == null ? null : Math.round(x * 1000) / 10);
    chart("chart-group", {
      type: "bar",
      data: {
        labels: rows.map((r) => label(by, r)),
        datasets: [
          { label: `${N.t("rp_within_target")} %`, data: rows.map((r) => share(r.within_target)), backgroundColor: "#0a4a9e" },
          { label: `${N.t("rp_satisfied_share")} %`, data: rows.map((r) => share(r.satisfied_share)), backgroundColor: "#3aa05a" },
        ],
      },
      options: {
        maintainAspectRatio: false, indexAxis: by === "hour" || by === "day" ? "x" : "y",
        scales: {
          [by === "hour" || by === "day" ? "y" : "x"]: { min: 0, max: 100 },
          ...(by === "hour" || by === "day" ? {} : { y: { ticks: { callback: fitLabel } } }),
        },
      },
    });
  }

  // --- wiring ------------------------------------------------------------------------------
  function show(view) {
    for (const v of ["login-view", "forbidden-view", "rp-view"]) $(v).hidden = v !== view;
  }

  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  form.querySelectorAll("input[data-date]").forEach((el) => el.addEventListener("input", () => typed(el)));
  form.querySelectorAll("input[type=date]").forEach((el) => el.addEventListener("change", showDates));
  form.querySelectorAll("[data-pick]").forEach((b) => b.addEventListener("click", () => {
    try { form[b.dataset.pick].showPicker(); } catch (e) { form.querySelector(`[data-date=${b.dataset.pick}]`).focus(); }
  }));
  pickLabels();
  N.onLang.push(pickLabels);
  form.by.addEventListener("change", () => load());
  form.querySelectorAll("[data-preset]").forEach((b) => b.addEventListener("click", () => { preset(b.dataset.preset); load(); }));
  $("print").addEventListener("click", () => window.print());
  $("logout").addEventListener("click", async () => { await N.logout(); N.showUser(); show("login-view"); });
  N.onLang.push(() => { fileLinks(); if (data) render(); });
  N.onLoggedOut.push(() => { N.showUser(); show("login-view"); });

  // Live: any committed event may change today's figures (a ticket finished, a rating given).
  let liveTimer = null;
  N.live.relevant = () => false;   // this page needs no staff snapshot, only the news that something happened
  N.live.onEvent.push(() => {
    if (!data || form.to.value < BOOT.today) return;
    clearTimeout(liveTimer);
    liveTimer = setTimeout(load, 250);
  });

  function start() {
    N.showUser();
    if (!N.isSupervisor()) { show("forbidden-view"); return; }
    show("rp-view");
    if (!form.from.value) preset("month");
    load();
    N.live.connect();
  }

  N.chrome();
  N.loginForm(start);
  N.me().then((u) => (u ? start() : show("login-view"))).catch((e) => { show("login-view"); N.showError(e); });
})();
