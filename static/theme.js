// The colour theme, applied before the first paint: loaded without defer in <head>, it sets
// <html data-theme="light|dark"> from the choice remembered in localStorage, so a page never
// flashes the other theme. No choice (or "system") leaves the attribute off, and the
// stylesheet follows prefers-color-scheme. The header's theme picker, wired once the page is
// parsed, saves the choice. (The Content-Security-Policy forbids inline scripts: hence a file.)
(function () {
  "use strict";
  var KEY = "rowboat-theme";
  var root = document.documentElement;

  function stored() {
    try { return window.localStorage.getItem(KEY) || "system"; } catch (e) { return "system"; }
  }

  function apply(choice) {
    if (choice === "light" || choice === "dark") root.setAttribute("data-theme", choice);
    else root.removeAttribute("data-theme");
  }

  apply(stored());
  // A choice made in another tab applies here too.
  window.addEventListener("storage", function (event) {
    if (event.key !== KEY) return;
    apply(stored());
    var select = document.querySelector("#theme-picker select");
    if (select) select.value = stored();
  });

  function wire() {
    var picker = document.getElementById("theme-picker");
    if (!picker) return;
    var select = picker.querySelector("select");
    select.value = stored();
    picker.hidden = false;  // without JavaScript it could not work: shown only with it
    select.addEventListener("change", function () {
      try { window.localStorage.setItem(KEY, select.value); } catch (e) { /* private mode */ }
      apply(select.value);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
