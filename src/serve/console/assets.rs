//! The console's style sheet and script, compiled into the binary (no CDN, nothing
//! fetched at run time). Pages read fine without the script; it only refreshes the node
//! list's states and a device's readings without a reload.

pub const STYLE: &str = r#":root { --fg: #1d232b; --muted: #5b6673; --line: #d9dee4; --bg: #f6f7f9;
  --on: #1b7f3b; --off: #b3261e; --unknown: #8a6d00; --accent: #24579d; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .4rem 1.2rem;
  padding: .6rem 1rem; background: #20262e; color: #fff; }
header .brand { font-weight: 700; letter-spacing: .02em; }
header nav a { color: #dfe7f1; margin-right: .9rem; text-decoration: none; }
header nav a:hover { text-decoration: underline; }
header .who { margin-left: auto; color: #b9c3cf; font-size: .9em; }
header form { display: inline; margin: 0; }
header button { background: none; border: 1px solid #6b7684; color: #dfe7f1; border-radius: 4px;
  padding: .15rem .55rem; cursor: pointer; }
main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
h1 { font-size: 1.35rem; margin: .2rem 0 .8rem; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .5rem; }
a { color: var(--accent); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { background: #eef1f4; font-weight: 600; font-size: .9em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.state, .st { font-weight: 700; }
.on { color: var(--on); } .off { color: var(--off); } .unknown { color: var(--unknown); }
.muted { color: var(--muted); font-size: .9em; }
.summary span { margin-right: 1rem; }
form.filter { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-bottom: .8rem; }
form.filter label { display: flex; flex-direction: column; font-size: .85em; color: var(--muted); }
input, select { font: inherit; padding: .3rem .45rem; border: 1px solid #b8c1cc; border-radius: 4px; }
button { font: inherit; }
.btn { display: inline-block; padding: .35rem .9rem; border-radius: 4px; border: 1px solid var(--accent);
  background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; }
.btn.secondary { background: #fff; color: var(--accent); }
.btn.danger { background: var(--off); border-color: var(--off); }
.switches form { display: inline-block; margin: 0 .4rem .4rem 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem; margin-bottom: 1rem; }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 1.3rem; }
ul.tree { padding-left: 0; }
ul.tree li { position: relative; padding: .15rem 0; }
ul.tree ul li::before { content: "\2190"; position: absolute; left: -1.1rem; color: var(--muted); }
.warnings li { color: var(--off); }
.ok { color: var(--on); font-weight: 600; }
.fail { color: var(--off); font-weight: 600; }
figure.plot-box { margin: 0 0 1rem; }
svg.plot { background: #fff; border: 1px solid var(--line); max-width: 100%; height: auto; }
svg.spark { vertical-align: middle; }
svg .axis { stroke: #9aa4b0; stroke-width: 1; }
svg .grid { stroke: #e6e9ed; stroke-width: 1; }
svg .line { fill: none; stroke: var(--accent); stroke-width: 2; }
svg text { font-size: 11px; fill: var(--muted); }
.login { max-width: 26rem; margin: 3rem auto; }
.login input { width: 100%; margin: .3rem 0 .8rem; }
.error { color: var(--off); }
@media (max-width: 640px) { main { padding: .6rem; } th, td { padding: .3rem .4rem; } }
"#;

pub const SCRIPT: &str = r#"// fencebox console: live states on the node list, fresh readings on a device page.
"use strict";
(function () {
  var table = document.getElementById("nodes");
  if (table && table.dataset.states) {
    var cells = {};
    table.querySelectorAll("tr[data-node]").forEach(function (tr) {
      cells[tr.dataset.node] = tr.querySelector("td.state");
    });
    var refresh = function () {
      fetch(table.dataset.states, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) { return; }
          Object.keys(s.states).forEach(function (name) {
            var td = cells[name], word = s.states[name];
            if (td && td.textContent !== word) {
              td.textContent = word;
              td.className = "state " + word.toLowerCase();
            }
          });
          var age = document.getElementById("age");
          if (age) { age.textContent = s.age; }
          ["on", "off", "unknown"].forEach(function (k) {
            var el = document.getElementById("count-" + k);
            if (el) { el.textContent = s.counts[k]; }
          });
        })
        .catch(function () {});
    };
    refresh();
    setInterval(refresh, 5000);
  }
  var device = document.getElementById("readings");
  if (device && device.dataset.refresh) {
    setInterval(function () {
      fetch(location.href, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("readings");
          if (fresh) { device.replaceWith(fresh); device = fresh; }
        })
        .catch(function () {});
    }, Number(device.dataset.refresh) * 1000);
  }
})();
"#;
