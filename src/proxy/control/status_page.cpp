#include "proxy/control/status_page.hpp"

namespace zdm::proxy {

namespace {

// Element ids are part of the page's contract (tests/deploy/test_status_page.py reads them).
constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>zdm proxy</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2733; background: #f5f7fa; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 0 0 8px; color: #44515f; }
.sub { color: #5b6876; margin-bottom: 16px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(330px, 1fr)); gap: 16px; }
.card { background: #fff; border-radius: 8px; padding: 14px 16px; box-shadow: 0 1px 3px #0002; }
.big { font-size: 28px; font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
td, th { text-align: left; padding: 3px 8px 3px 0; font-variant-numeric: tabular-nums; }
th { color: #5b6876; font-weight: 500; }
.UP { color: #17803d; } .DOWN { color: #c0392b; } .STARTUP { color: #b7791f; }
.bad { color: #c0392b; font-weight: 600; }
#error { color: #c0392b; }
</style>
</head>
<body data-loaded="0">
<h1>zdm proxy <span id="instance"></span></h1>
<div class="sub"><span id="version"></span> &middot; up <span id="uptime"></span> &middot;
  refreshed every 2 s <span id="error"></span></div>
<div class="grid">
  <div class="card"><h2>Phase</h2>
    <div class="big">Phase <span id="phase">?</span></div>
    <div id="phase-text"></div>
    <table>
      <tr><th>primary cluster</th><td id="primary-cluster"></td></tr>
      <tr><th>read mode</th><td id="read-mode"></td></tr>
      <tr><th>read comparison rate</th><td id="comparison-rate"></td></tr>
      <tr><th>configuration generation</th><td id="generation"></td></tr>
    </table></div>
  <div class="card"><h2>Readiness</h2>
    <div class="big"><span id="status">?</span></div>
    <table><tr><th>cluster</th><th>node</th><th>status</th><th>failures</th></tr>
      <tr><td>origin</td><td id="origin-addr"></td><td id="origin-status"></td>
        <td id="origin-failures"></td></tr>
      <tr><td>target</td><td id="target-addr"></td><td id="target-status"></td>
        <td id="target-failures"></td></tr></table></div>
  <div class="card"><h2>Requests</h2>
    <div class="big"><span id="requests-rate">&ndash;</span> /s</div>
    <table>
      <tr><th>requests</th><td id="requests-total"></td></tr>
      <tr><th>reads served by origin / target, per s</th><td><span id="reads-origin-rate">&ndash;</span>
        / <span id="reads-target-rate">&ndash;</span></td></tr>
      <tr><th>writes (both clusters), per s</th><td id="writes-rate">&ndash;</td></tr>
      <tr><th>reads served by origin / target</th><td><span id="reads-origin"></span> /
        <span id="reads-target"></span></td></tr>
      <tr><th>p99 reads / writes (ms)</th><td><span id="p99-reads"></span> /
        <span id="p99-writes"></span></td></tr>
      <tr><th>failed writes origin / target / both</th><td><span id="failed-writes-origin"></span>
        / <span id="failed-writes-target"></span> / <span id="failed-writes-both"></span></td></tr>
      <tr><th>failed reads origin / target</th><td><span id="failed-reads-origin"></span> /
        <span id="failed-reads-target"></span></td></tr>
      <tr><th>async read errors</th><td id="async-read-errors"></td></tr>
    </table></div>
  <div class="card"><h2>Read comparison</h2>
    <table><tr><th>reads compared</th><td id="compared"></td></tr>
      <tr><th>mismatches</th><td id="mismatches"></td></tr></table></div>
  <div class="card"><h2>Clients (<span id="clients-count">0</span> connections)</h2>
    <table id="drivers"><thead><tr><th>driver</th><th>version</th><th>connections</th>
      <th>requests</th></tr></thead><tbody></tbody></table></div>
  <div class="card"><h2>Migrations reporting here</h2>
    <table id="migrations"><thead><tr><th>run</th><th>rows</th><th>rows/s</th><th>ranges</th>
      <th>differences</th><th>ETA</th></tr></thead><tbody></tbody></table>
    <div id="no-migrations">none in the last 10 minutes</div></div>
</div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const set = (id, v) => { $(id).textContent = v; };
const phaseText = {1: "origin primary, reads from origin", 3: "origin primary, reads copied to target",
                   4: "target primary"};
let previous = null;
function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); }
function fill(tbody, rows) {
  tbody.replaceChildren();
  for (const r of rows) { const tr = document.createElement("tr"); r.forEach((t) => cell(tr, t)); tbody.appendChild(tr); }
}
async function json(path) { const r = await fetch(path, {cache: "no-store"}); return r.json(); }
async function refresh() {
  try {
    const [s, c, cfg, m] = await Promise.all([json("/api/v1/status"), json("/api/v1/clients"),
                                              json("/api/v1/config"), json("/api/v1/migrations")]);
    set("instance", s.instance); set("version", s.version);
    set("uptime", Math.round(s.uptime_seconds) + " s");
    set("phase", s.phase); set("phase-text", phaseText[s.phase] || "");
    set("primary-cluster", s.primary_cluster); set("read-mode", s.read_mode);
    set("comparison-rate", cfg.config.read_comparison_rate); set("generation", s.generation);
    set("status", s.status); $("status").className = s.status;
    for (const name of ["origin", "target"]) {
      const k = (s.clusters || {})[name];
      set(name + "-addr", k ? k.addr : "not connected yet");
      set(name + "-status", k ? k.status : "STARTUP");
      $(name + "-status").className = k ? k.status : "STARTUP";
      set(name + "-failures", k ? k.failures : 0);
    }
    set("requests-total", s.requests_total);
    set("reads-origin", s.requests.reads_origin); set("reads-target", s.requests.reads_target);
    // A rate needs two samples at least a second apart (server time).
    if (!previous || s.uptime_seconds - previous.uptime_seconds >= 1) {
      if (previous) {
        const dt = s.uptime_seconds - previous.uptime_seconds;
        const rate = (now, then) => Math.round((now - then) / dt);
        set("requests-rate", rate(s.requests_total, previous.requests_total));
        set("reads-origin-rate", rate(s.requests.reads_origin, previous.requests.reads_origin));
        set("reads-target-rate", rate(s.requests.reads_target, previous.requests.reads_target));
        set("writes-rate", rate(s.requests.writes, previous.requests.writes));
      }
      previous = s;
    }
    set("p99-reads", s.latency_p99_ms.reads.toFixed(2)); set("p99-writes", s.latency_p99_ms.writes.toFixed(2));
    for (const k of ["origin", "target", "both"]) set("failed-writes-" + k, s.failed_writes[k]);
    for (const k of ["origin", "target"]) set("failed-reads-" + k, s.failed_reads[k]);
    set("async-read-errors", s.async_read_errors);
    set("compared", s.read_comparison.compared); set("mismatches", s.read_comparison.mismatches);
    $("mismatches").className = s.read_comparison.mismatches > 0 ? "bad" : "";
    set("clients-count", c.clients.length);
    const drivers = new Map();
    for (const x of c.clients) {
      const key = (x.driver_name || "(not given)") + "\u0000" + (x.driver_version || "");
      const d = drivers.get(key) || {name: x.driver_name || "(not given)", version: x.driver_version || "", n: 0, requests: 0};
      d.n += 1; d.requests += x.requests; drivers.set(key, d);
    }
    fill($("drivers").tBodies[0], [...drivers.values()].map((d) => [d.name, d.version, d.n, d.requests]));
    fill($("migrations").tBodies[0], m.migrations.map((r) => [
      r.command + " " + r.run_id, r.rows, Math.round(r.rows_per_second),
      r.ranges_done + "/" + r.ranges_total + (r.ranges_failed ? " (" + r.ranges_failed + " failed)" : ""),
      r.differences, r.finished ? "finished" : (r.eta_seconds < 0 ? "?" : Math.round(r.eta_seconds) + " s")]));
    $("no-migrations").style.display = m.migrations.length ? "none" : "";
    set("error", "");
    document.body.dataset.loaded = "1";
  } catch (e) {
    set("error", "(cannot reach the proxy: " + e + ")");
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
)html";

}  // namespace

std::string_view status_page_html() { return kPage; }

}  // namespace zdm::proxy
