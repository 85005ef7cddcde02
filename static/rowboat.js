// Progressive enhancement for list pages: offer only the operators that fit the chosen
// column, and hide the value box for operators that take none. Pages work without it.
(function () {
  "use strict";
  function syncRow(row) {
    var column = row.querySelector(".filter-column");
    var op = row.querySelector(".filter-op");
    var value = row.querySelector(".filter-value");
    if (!column || !op) return;
    var chosen = column.options[column.selectedIndex];
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
    var arity = op.selectedOptions.length ? op.selectedOptions[0].dataset.arity : "one";
    if (value) {
      value.hidden = arity === "none";
      value.placeholder = arity === "list" ? "a, b, c" : "value";
    }
  }
  document.querySelectorAll(".filter-row").forEach(function (row) {
    syncRow(row);
    row.addEventListener("change", function () { syncRow(row); });
  });
})();
