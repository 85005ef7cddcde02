// Progressive enhancement for the row forms; every form works without it.
// - foreign keys to large tables: a search box that asks the lookup endpoint and fills the key
// - many-to-many: ticked boxes for the linked rows; the same search adds a ticked box per row
// - NULL checkboxes: typing a value unticks NULL; ticking NULL empties the input
(function () {
  "use strict";

  // The search box and its list of rows: rowboat.js (the list page's filters use it too).
  var attachSearch = Rowboat.attachSearch;

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

  // A linked row found again is kept (ticked again, or its remove box unticked); a row listed
  // among the others of a small target moves up to the added ones; any other found row gets a
  // ticked box named as the field posts it (data-add-name).
  document.querySelectorAll(".related-search").forEach(function (box) {
    var linked = box.querySelector(".related-chosen");
    var added = box.querySelector(".related-added");
    var keepTicked = box.dataset.ticked === "linked";
    attachSearch(box, function (row) {
      var selector = 'input[value="' + CSS.escape(row.key) + '"]';
      var known = linked.querySelector(selector);
      if (known) { known.checked = keepTicked; return; }
      var existing = added.querySelector(selector);
      if (existing) { existing.checked = true; return; }
      var other = box.querySelector(".related-others " + selector);
      if (other) other.closest("li").remove();
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

// Editable primary keys (edit form): the key's input stays read-only until "Change the key"
// is ticked, so a stray keystroke cannot rewrite the row's identity. A key already changed
// (shown again after a failed save) starts unlocked. Read-only inputs are still posted, so the
// form saves as without this.
(function () {
  "use strict";
  document.querySelectorAll(".key-warning").forEach(function (warning) {
    var field = warning.closest(".field");
    var unlock = warning.querySelector(".key-unlock");
    if (!field || !unlock) return;
    var inputs = field.querySelectorAll(".field-input input:not([type=checkbox]):not([type=hidden]), .field-input textarea");
    if (!inputs.length) return;
    var box = unlock.querySelector("input");
    function apply() {
      inputs.forEach(function (input) { input.readOnly = !box.checked; });
      field.classList.toggle("key-locked", !box.checked);
    }
    var was = warning.dataset.was || "";
    box.checked = Array.prototype.some.call(inputs, function (input) {
      return !input.classList.contains("lookup-input") && input.value !== was;
    });
    box.addEventListener("change", function () {
      apply();
      if (box.checked) inputs[0].focus();
    });
    unlock.hidden = false;
    apply();
  });
})();
