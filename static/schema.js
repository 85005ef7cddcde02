// The schema pages' progressive enhancements; every page works without them.
// Diagram: zoom buttons, and hovering a table lights up its foreign keys and neighbours.
// Schema list: the search box filters the tables as you type.
(function () {
  "use strict";
  if (window.rowboatSchema) return;  // the script may be included more than once
  window.rowboatSchema = true;

  function setupDiagram(wrap) {
    var svg = wrap.querySelector("svg.erd");
    var tools = wrap.querySelector(".erd-tools");
    if (!svg || !tools) return;
    var width = +svg.dataset.width, height = +svg.dataset.height, scale = 1;
    function apply() {
      svg.setAttribute("width", Math.round(width * scale));
      svg.setAttribute("height", Math.round(height * scale));
    }
    tools.hidden = false;
    tools.addEventListener("click", function (event) {
      var how = event.target.dataset.zoom;
      if (!how) return;
      if (how === "in") scale = Math.min(scale * 1.25, 4);
      else if (how === "out") scale = Math.max(scale / 1.25, 0.1);
      else if (how === "fit") scale = Math.min(1, (wrap.clientWidth - 4) / width);
      else scale = 1;
      apply();
    });
    var edges = Array.prototype.slice.call(svg.querySelectorAll(".edge"));
    var boxes = Array.prototype.slice.call(svg.querySelectorAll(".box"));
    function light(key) {
      var near = {};
      near[key] = true;
      edges.forEach(function (edge) {
        var on = edge.dataset.source === key || edge.dataset.target === key;
        edge.classList.toggle("lit", on);
        if (on) { near[edge.dataset.source] = true; near[edge.dataset.target] = true; }
      });
      boxes.forEach(function (box) { box.classList.toggle("lit", !!near[box.dataset.key]); });
      svg.classList.add("highlighting");
    }
    function clear() { svg.classList.remove("highlighting"); }
    boxes.forEach(function (box) {
      box.addEventListener("mouseenter", function () { light(box.dataset.key); });
      box.addEventListener("mouseleave", clear);
      box.addEventListener("focus", function () { light(box.dataset.key); });
      box.addEventListener("blur", clear);
    });
    // A diagram wider than the window starts fitted, so the whole picture shows first.
    // Never below 60 %, where the names stay legible; "Fit" shows the whole picture on demand.
    if (width > wrap.clientWidth) { scale = Math.max(0.6, (wrap.clientWidth - 4) / width); apply(); }
  }

  function setupSearch(input) {
    var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-names]"));
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      rows.forEach(function (row) {
        row.hidden = needle !== "" && row.dataset.names.indexOf(needle) === -1;
      });
    });
  }

  // The diagram's table picker opens the chosen table's diagram when picked with the pointer;
  // with the keyboard the arrows only browse (each is a change), and Enter or "Show" opens it.
  function setupPicker(select) {
    var keyed = false;
    function open() {
      var option = select.options[select.selectedIndex];
      if (option && option.dataset.href) window.location.href = option.dataset.href;
    }
    select.addEventListener("pointerdown", function () { keyed = false; });
    select.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); open(); }
      else if (event.key !== "Tab") keyed = true;
    });
    select.addEventListener("change", function () { if (!keyed) open(); });
  }

  function init() {
    document.querySelectorAll(".erd-wrap").forEach(setupDiagram);
    var input = document.getElementById("schema-q");
    if (input) setupSearch(input);
    var picker = document.getElementById("diagram-table");
    if (picker) setupPicker(picker);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
