/* The supervisor view's device list: every configured kiosk and board, when it was last heard
   from and what it reports; a device silent for longer than the server's limit (a minute) is
   flagged, here and on the tab. The list comes from GET /api/devices/health on every (re)connect
   of the /counter socket; each heartbeat, connect and disconnect then arrives as a
   "device-health" message with that device's row. Silence needs no message: the page compares
   each row's last heartbeat with the server's clock every second. */
"use strict";

(function () {
  const N = window.Novbe;
  const $ = (id) => document.getElementById(id);
  const devices = new Map();   // "kind:name" -> row, in the server's order
  let silentAfter = 60, skew = 0, loading = false;

  const now = () => Date.now() / 1000 + skew;
  const key = (d) => d.kind + ":" + d.name;

  /** The row's state now: the server's rules 1–2 applied again with the current time. */
  function judge(d) {
    if (d.last_seen == null) return { state: "never", problems: d.problems };
    const quiet = now() - d.last_seen;
    const others = d.problems.filter((p) => p !== "silent" && p !== "disconnected");
    if (quiet > silentAfter) return { state: "silent", problems: ["silent"].concat(others), quiet };
    const problems = d.connected ? others : ["disconnected"].concat(others);
    return { state: problems.length ? "warning" : "ok", problems, quiet };
  }

  function problemText(p, d, quiet) {
    if (p === "silent") return N.t("dev_p_silent", { t: N.fmtDuration(quiet) });
    if (p === "printer" && d.printer) {
      const state = d.printer.state || d.printer.page || "";
      const named = N.t("printer_state_" + state);
      return N.t("dev_p_printer", { state: named === "printer_state_" + state ? state : named });
    }
    return N.t("dev_p_" + p);
  }

  function details(d) {
    const out = [];
    if (d.kind === "display" && d.sound) out.push(N.t("dev_sound_" + d.sound));
    if (d.kind === "display" && d.queue) out.push(N.t("dev_queue", { n: d.queue }));
    if (d.kind === "kiosk" && d.printer && d.printer.state) {
      const named = N.t("printer_state_" + d.printer.state);
      out.push(N.t("dev_printer", { state: named === "printer_state_" + d.printer.state ? d.printer.state : named }));
    }
    if (d.version) out.push(N.t("dev_version", { v: d.version }));
    if (d.address) out.push(d.address);
    return out.join(" · ");
  }

  let listed = false;   // the full list of configured devices has arrived once

  function render() {
    const box = $("tab-devices");
    if (!box || !listed) return;      // nothing until the full list of configured devices is in
    const rows = [...devices.values()].map((d) => Object.assign({ d }, judge(d)));
    const flagged = rows.filter((r) => r.state === "never" || r.state === "silent").length;
    const flag = $("devices-flag");
    if (flag) {
      flag.textContent = flagged ? String(flagged) : "";
      flag.classList.toggle("bad", flagged > 0);
    }
    if (box.hidden && box.dataset.drawn) return;   // the tab's mark is enough while it is hidden
    box.dataset.drawn = "1";
    if (!rows.length) { box.innerHTML = `<p class="muted">${N.esc(N.t("none"))}</p>`; return; }
    box.innerHTML = `<table class="grid devices"><thead><tr><th>${N.esc(N.t("col_device"))}</th>
      <th>${N.esc(N.t("col_state"))}</th><th>${N.esc(N.t("col_last_seen"))}</th><th>${N.esc(N.t("col_details"))}</th></tr></thead><tbody>
      ${rows.map(({ d, state, problems, quiet }) => `<tr data-device="${N.esc(key(d))}" data-state="${state}" class="dev-${state}">
        <td><b>${N.esc(d.name)}</b> <span class="muted">${N.esc(N.t("dev_kind_" + d.kind))}</span></td>
        <td><span class="badge dev-${state}">${N.esc(N.t("dev_state_" + state))}</span>
          ${problems.filter((p) => p !== "never_seen").map((p) => `<span class="dev-problem" data-problem="${p}">${N.esc(problemText(p, d, quiet))}</span>`).join("")}</td>
        <td class="n">${d.last_seen == null ? "—" : `${N.esc(N.fmtClock(d.last_seen))} <span class="muted">(${N.esc(N.t("dev_ago", { t: N.fmtDuration(quiet) }))})</span>`}</td>
        <td class="dev-details">${N.esc(details(d))}</td></tr>`).join("")}
      </tbody></table>`;
  }

  async function load() {
    if (loading || !N.isSupervisor()) return;
    loading = true;
    try {
      const r = await N.api("GET", "/api/devices/health");
      skew = r.now - Date.now() / 1000;
      silentAfter = r.silent_after;
      devices.clear();
      for (const d of r.devices) devices.set(key(d), d);
      listed = true;
      render();
    } catch (e) {
      N.showError(e);
    } finally {
      loading = false;
    }
  }

  N.live.onStatus.push((connected) => { if (connected) load(); });
  N.live.onEvent.push((name, row) => {
    if (name !== "device-health" || !row || !row.kind) return;
    devices.set(key(row), row);
    render();                   // (render waits for the first full list: never a list of one)
  });
  N.onLang.push(render);
  document.addEventListener("click", (ev) => {
    if (ev.target.closest("button[data-tab]")) setTimeout(render, 0);   // drawn when its tab opens
  });
  setInterval(render, 1000);   // "seen … ago" moves on, and a quiet device turns silent on time
  window.NovbeDevices = { rows: devices, judge, load };   // for tests
})();
