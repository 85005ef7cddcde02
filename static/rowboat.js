// Progressive enhancement shared by the pages: offer only the operators that fit the chosen
// column, and hide the value box for operators that take none. Pages work without it.
var Rowboat = (function () {
  "use strict";

  // Narrow ``op`` (a <select> of operators with data-arity) to the keys listed in the chosen
  // option's data-ops of ``field`` (when given), then show or hide ``value`` by arity.
  function syncOperators(field, op, value) {
    if (field) {
      var chosen = field.options[field.selectedIndex];
      var allowed = chosen && chosen.dataset.ops ? chosen.dataset.ops.split(" ") : null;
      var firstAllowed = null;
      Array.prototype.forEach.call(op.options, function (option) {
        var ok = !allowed || allowed.indexOf(option.value) !== -1;
        option.hidden = !ok;
        option.disabled = !ok;
        if (ok && firstAllowed === null) firstAllowed = option;
      });
      if (op.selectedOptions.length && op.selectedOptions[0].disabled && firstAllowed) {
        firstAllowed.selected = true;
      }
    }
    var arity = op.selectedOptions.length ? op.selectedOptions[0].dataset.arity : "one";
    if (value) {
      value.hidden = arity === "none";
      value.placeholder = arity === "list" ? "a, b, c" : arity === "two" ? "low, high" : "value";
    }
  }

  function syncFilterRow(row) {
    var column = row.querySelector(".filter-column");
    var op = row.querySelector(".filter-op");
    if (column && op) syncOperators(column, op, row.querySelector(".filter-value"));
  }

  document.querySelectorAll(".filter-row").forEach(function (row) {
    syncFilterRow(row);
    row.addEventListener("change", function () { syncFilterRow(row); });
  });

  // The list page's bulk delete: its button is usable only once a row is ticked, and says
  // how many (without JavaScript it stays usable, and the server asks to tick rows first).
  var bulk = document.getElementById("bulk-delete");
  var bulkButton = bulk && bulk.querySelector("button[type=submit]");
  if (bulkButton) {
    var boxes = document.querySelectorAll('input[form="bulk-delete"][name="_key"]');
    var syncBulk = function () {
      var ticked = Array.prototype.filter.call(boxes, function (box) { return box.checked; });
      var n = ticked.length;
      bulkButton.disabled = n === 0;
      bulkButton.textContent = n === 0 ? "Delete selected rows…"
        : "Delete " + n + " selected row" + (n === 1 ? "" : "s") + "…";
      bulkButton.title = n === 0 ? "Tick the rows to delete first" : "";
    };
    boxes.forEach(function (box) { box.addEventListener("change", syncBulk); });
    syncBulk();
  }

  return { syncOperators: syncOperators };
})();

// Keyboard shortcut: "/" focuses the page's search box (the element marked
// aria-keyshortcuts="/"), unless one is typing in a field or holding a modifier.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.defaultPrevented) return;
    var target = event.target;
    if (target && (target.isContentEditable ||
                   /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    var box = document.querySelector('[aria-keyshortcuts="/"]:not([disabled])');
    if (!box || box.offsetParent === null) return;
    event.preventDefault();
    box.focus();
    if (box.select) box.select();
  });
})();

// A box that scrolls sideways (.scroll around a wide table) with nothing focusable inside can
// be scrolled by the keyboard only if it takes the focus itself: then it is a labelled region.
// Measured again when the window is resized (a box scrolls on a phone, not on a laptop).
(function () {
  "use strict";
  var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";
  function sync() {
    document.querySelectorAll(".scroll").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth;
      var reachable = box.querySelector(FOCUSABLE) !== null;
      if (scrolls && !reachable && !box.hasAttribute("tabindex")) {
        box.tabIndex = 0;
        box.dataset.scrollFocus = "1";
        box.setAttribute("role", "region");
        var heading = box.previousElementSibling;
        var name = heading && /^H[1-6]$/.test(heading.tagName)
          ? heading.firstChild.textContent.trim() : "";
        box.setAttribute("aria-label", (name || "Table") + " (scrolls sideways)");
      } else if (!scrolls && box.dataset.scrollFocus) {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
        delete box.dataset.scrollFocus;
      }
    });
  }
  sync();
  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) window.cancelAnimationFrame(pending);
    pending = window.requestAnimationFrame(sync);
  });
})();
// The foreign-key picker, shared by the row forms (edit.js) and the list page's filter rows:
// a text box that searches a table by label through the lookup endpoint (the box's
// data-lookup) and offers the rows found; ArrowUp/ArrowDown and Enter, or the mouse, pick one.
(function (R) {
  "use strict";

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  var lists = 0;

  // ``box`` holds the list (.lookup-results) and names the lookup URL (data-lookup; none: the
  // box searches nothing for now). Options: ``input``, the text box (default: the box's
  // .lookup-input); ``term(text)``, what of its text to search for (default: all of it);
  // ``keep``, leave the text box as onChoose set it (default: empty it after a choice);
  // ``enterSubmits``, Enter with no row highlighted submits the form rather than nothing.
  function attachSearch(box, onChoose, options) {
    options = options || {};
    var input = options.input || box.querySelector(".lookup-input");
    var list = box.querySelector(".lookup-results");
    if (!input || !list) return;
    if (!options.input) input.hidden = false;  // the form's search box, hidden without script
    list.id = list.id || "lookup-results-" + (++lists);
    list.setAttribute("role", "listbox");
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-expanded", "false");
    var active = -1;
    var seq = 0;
    function close() {
      seq++;  // an answer still on its way is not shown
      list.hidden = true; list.innerHTML = ""; active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function highlight(i) {
      var items = list.querySelectorAll("li[data-value]");
      items.forEach(function (li, n) { li.setAttribute("aria-selected", n === i ? "true" : "false"); });
      active = i;
      if (items[i]) {
        input.setAttribute("aria-activedescendant", items[i].id);
        items[i].scrollIntoView({ block: "nearest" });
      }
    }
    function choose(row) {
      onChoose(row);
      close();
      if (!options.keep) input.value = "";
    }
    var run = debounce(function () {
      if (!box.dataset.lookup) return;
      var mine = ++seq;
      var term = options.term ? options.term(input.value) : input.value;
      var url = box.dataset.lookup + (box.dataset.lookup.indexOf("?") === -1 ? "?" : "&") +
        "q=" + encodeURIComponent(term);
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { results: [] }; })
        .then(function (data) {
          if (mine !== seq || document.activeElement !== input) return;
          list.innerHTML = "";
          active = -1;
          input.removeAttribute("aria-activedescendant");
          (data.results || []).forEach(function (row, n) {
            var li = document.createElement("li");
            li.id = list.id + "-" + n;
            li.setAttribute("role", "option");
            li.setAttribute("aria-selected", "false");
            li.dataset.value = row.value;
            li.dataset.key = row.key || "";
            li.dataset.label = row.label;
            li.textContent = row.label;
            if (row.label !== row.value) {
              var key = document.createElement("span");
              key.className = "key";
              key.textContent = row.value;
              li.appendChild(key);
            }
            li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(row); });
            list.appendChild(li);
          });
          var note = null;
          if (!data.results || !data.results.length) note = "No match.";
          else if (data.more) note = "More rows match: keep typing.";
          if (note) {
            var more = document.createElement("li");
            more.className = "more";
            more.setAttribute("role", "option");
            more.setAttribute("aria-disabled", "true");
            more.textContent = note;
            list.appendChild(more);
          }
          list.hidden = false;
          input.setAttribute("aria-expanded", "true");
        })
        .catch(function () { /* the key can still be typed by hand */ });
    }, 180);
    input.addEventListener("input", run);
    input.addEventListener("focus", run);
    input.addEventListener("blur", function () { setTimeout(close, 150); });
    input.addEventListener("keydown", function (e) {
      var items = list.querySelectorAll("li[data-value]");
      if (e.key === "ArrowDown" && items.length) { e.preventDefault(); highlight(Math.min(active + 1, items.length - 1)); }
      else if (e.key === "ArrowUp" && items.length) { e.preventDefault(); highlight(Math.max(active - 1, 0)); }
      else if (e.key === "Enter") {
        if (active >= 0 && items[active]) {
          e.preventDefault();
          var li = items[active];
          choose({ value: li.dataset.value, key: li.dataset.key, label: li.dataset.label });
        } else if (options.enterSubmits) { close(); }
        else if (!list.hidden) { e.preventDefault(); }
      } else if (e.key === "Escape" && !list.hidden) { e.preventDefault(); close(); }
    });
  }
  R.attachSearch = attachSearch;

  // The list page's filter rows: when the chosen column is a foreign key (its option names a
  // lookup) and the operator compares keys, the value box searches the table it points at;
  // a row picked puts its key in the box (appended, for "in list"), its label beside it.
  var KEY_OPERATORS = ["exact", "not", "in"];
  document.querySelectorAll(".filter-row").forEach(function (row) {
    var column = row.querySelector(".filter-column");
    var op = row.querySelector(".filter-op");
    var pick = row.querySelector(".filter-pick");
    var value = pick && pick.querySelector(".filter-value");
    if (!column || !op || !value) return;
    var list = document.createElement("ul");
    list.className = "lookup-results";
    list.hidden = true;
    pick.appendChild(list);
    function label() {
      var span = pick.querySelector(".filter-label");
      if (!span) {
        span = document.createElement("span");
        span.className = "filter-label";
        value.insertAdjacentElement("afterend", span);
      }
      return span;
    }
    function isList() { return op.value === "in"; }
    // A combobox only while it searches: otherwise a plain value box, for screen readers too.
    var COMBO = { role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false" };
    function sync() {
      var chosen = column.options[column.selectedIndex];
      var lookup = chosen && chosen.dataset.lookup;
      var on = Boolean(lookup && KEY_OPERATORS.indexOf(op.value) !== -1);
      Object.keys(COMBO).forEach(function (name) {
        if (on) value.setAttribute(name, COMBO[name]); else value.removeAttribute(name);
      });
      if (on) {
        pick.dataset.lookup = lookup;
        value.placeholder = isList() ? "search " + chosen.dataset.target + "…, …" : "search " + chosen.dataset.target + "…";
        value.title = "Type part of a " + chosen.dataset.target + " label and pick a row, or type its key";
      } else {
        delete pick.dataset.lookup;
        value.removeAttribute("title");
        list.hidden = true;
        list.innerHTML = "";
      }
    }
    // On the row, after syncFilterRow's listener (above), which sets the value's placeholder.
    row.addEventListener("change", sync);
    // "in list": the text after the last comma is what is being typed.
    function parts(text) {
      var cut = isList() ? text.lastIndexOf(",") : -1;
      return { head: text.slice(0, cut + 1), term: text.slice(cut + 1).trim() };
    }
    R.attachSearch(pick, function (chosen) {
      var span = label();
      if (isList()) {
        var head = parts(value.value).head;
        value.value = (head ? head.trim() + " " : "") + chosen.value;  // ", " then the next
        span.textContent = span.textContent ? span.textContent + ", " + chosen.label : chosen.label;
      } else {
        value.value = chosen.value;
        span.textContent = chosen.label === chosen.value ? "" : chosen.label;
      }
      value.removeAttribute("aria-invalid");
    }, {
      input: value,
      keep: true,
      enterSubmits: true,
      term: function (text) { return parts(text).term; }
    });
    sync();
    value.addEventListener("input", function (e) {
      var span = pick.querySelector(".filter-label");
      if (e.isTrusted && span && !isList()) span.textContent = "";
    });
  });
})(Rowboat);
