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

  return { syncOperators: syncOperators };
})();
