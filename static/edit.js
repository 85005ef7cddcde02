// Progressive enhancement for the row forms; every form works without it.
// - foreign keys to large tables: a search box that asks the lookup endpoint and fills the key
// - many-to-many to large tables: the same search adds a ticked checkbox per chosen row
// - NULL checkboxes: typing a value unticks NULL; ticking NULL empties the input
(function () {
  "use strict";

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  function attachSearch(box, onChoose) {
    var input = box.querySelector(".lookup-input");
    var list = box.querySelector(".lookup-results");
    if (!input || !list) return;
    input.hidden = false;
    var active = -1;
    var seq = 0;
    function close() { list.hidden = true; list.innerHTML = ""; active = -1; }
    function highlight(i) {
      var items = list.querySelectorAll("li[data-value]");
      items.forEach(function (li, n) { li.setAttribute("aria-selected", n === i ? "true" : "false"); });
      active = i;
    }
    var run = debounce(function () {
      var mine = ++seq;
      var url = box.dataset.lookup + (box.dataset.lookup.indexOf("?") === -1 ? "?" : "&") +
        "q=" + encodeURIComponent(input.value);
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { results: [] }; })
        .then(function (data) {
          if (mine !== seq) return;
          list.innerHTML = "";
          (data.results || []).forEach(function (row) {
            var li = document.createElement("li");
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
            li.addEventListener("mousedown", function (e) { e.preventDefault(); onChoose(row); close(); input.value = ""; });
            list.appendChild(li);
          });
          if (!data.results || !data.results.length) {
            var none = document.createElement("li");
            none.className = "more";
            none.textContent = "No match.";
            list.appendChild(none);
          } else if (data.more) {
            var more = document.createElement("li");
            more.className = "more";
            more.textContent = "More rows match: keep typing.";
            list.appendChild(more);
          }
          list.hidden = false;
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
          onChoose({ value: li.dataset.value, key: li.dataset.key, label: li.dataset.label });
          close();
          input.value = "";
        } else if (!list.hidden) { e.preventDefault(); }
      } else if (e.key === "Escape") { close(); }
    });
  }

  document.querySelectorAll(".fk-search").forEach(function (box) {
    var value = box.querySelector(".fk-value");
    var label = box.querySelector(".fk-label");
    attachSearch(box, function (row) {
      value.value = row.value;
      label.textContent = row.label;
      value.dispatchEvent(new Event("input", { bubbles: true }));
    });
    value.addEventListener("input", function (e) { if (e.isTrusted) label.textContent = ""; });
  });

  // Only changes are posted: a linked row found again is kept (its remove box unticked),
  // any other found row gets a ticked "add" box.
  document.querySelectorAll(".related-search").forEach(function (box) {
    var linked = box.querySelector(".related-chosen");
    var added = box.querySelector(".related-added");
    attachSearch(box, function (row) {
      var selector = 'input[value="' + CSS.escape(row.key) + '"]';
      var removing = linked.querySelector(selector);
      if (removing) { removing.checked = false; return; }
      var existing = added.querySelector(selector);
      if (existing) { existing.checked = true; return; }
      var li = document.createElement("li");
      var lab = document.createElement("label");
      var box2 = document.createElement("input");
      box2.type = "checkbox";
      box2.name = box.dataset.addName;
      box2.value = row.key;
      box2.checked = true;
      lab.appendChild(box2);
      lab.appendChild(document.createTextNode(" " + row.label));
      li.appendChild(lab);
      var note = document.createElement("span");
      note.className = "added";
      note.textContent = "added";
      li.appendChild(document.createTextNode(" "));
      li.appendChild(note);
      added.appendChild(li);
    });
  });

  document.querySelectorAll(".field").forEach(function (field) {
    var nullBox = field.querySelector(".null-box input");
    if (!nullBox) return;
    var inputs = field.querySelectorAll(".field-input input:not([type=checkbox]):not([type=hidden]):not(.lookup-input), .field-input textarea");
    inputs.forEach(function (input) {
      input.addEventListener("input", function () { if (input.value !== "") nullBox.checked = false; });
    });
    nullBox.addEventListener("change", function () {
      if (nullBox.checked) inputs.forEach(function (input) { if (input.type !== "file") input.value = ""; });
    });
  });

})();
