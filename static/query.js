// The query builder's progressive enhancement: add and remove rows and nested groups without
// a round trip, offer only the operators that fit the chosen column, hide the value box of
// operators that take none, and add a join as soon as one is picked with the pointer (with the
// keyboard, arrows browse the relationships and Enter adds the one shown). The form still works
// without it (one blank row per list, submitted to the server, which redirects to the URL).
(function () {
  "use strict";
  var form = document.getElementById("qb");
  if (!form) return;

  function syncRow(row) {
    var field = row.querySelector(".qb-field");
    var op = row.querySelector(".qb-op");
    if (!op) return;
    // HAVING operators apply to an aggregate, not to the field's own type.
    var narrowBy = op.classList.contains("qb-having-op") ? null : field;
    Rowboat.syncOperators(narrowBy, op, row.querySelector(".qb-value"));
  }

  function syncAll(root) {
    root.querySelectorAll(".qb-row").forEach(syncRow);
  }

  function fromTemplate(id, replacements) {
    var html = document.getElementById(id).innerHTML;
    Object.keys(replacements).forEach(function (key) {
      html = html.split(key).join(replacements[key]);
    });
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    return holder.firstElementChild;
  }

  function nextGroupId() {
    var max = 0;
    form.querySelectorAll(".qb-group").forEach(function (g) {
      var n = parseInt(g.dataset.group, 10);
      if (!isNaN(n) && n > max) max = n;
    });
    return String(max + 1);
  }

  function itemsOf(group) {
    return Array.prototype.find.call(group.children, function (c) {
      return c.classList.contains("qb-items");
    });
  }

  form.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLElement)) return;
    var group = target.closest(".qb-group");
    if (target.classList.contains("qb-add-condition") && group) {
      var row = fromTemplate("qb-condition-template", { __GID__: group.dataset.group });
      itemsOf(group).appendChild(row);
      syncRow(row);
      row.querySelector("select").focus();
    } else if (target.classList.contains("qb-add-group") && group) {
      var child = fromTemplate("qb-group-template", {
        __GID__: nextGroupId(),
        __PARENT__: group.dataset.group,
      });
      itemsOf(group).appendChild(child);
      syncAll(child);
    } else if (target.classList.contains("qb-remove-group") && group) {
      group.remove();
    } else if (target.classList.contains("qb-remove")) {
      var item = target.closest(".qb-row");
      var list = target.closest(".qb-list, .qb-items");
      var siblings = list ? list.querySelectorAll(":scope > .qb-row") : [];
      if (siblings.length > 1) {
        item.remove();
      } else {
        // Keep one row to type into; clearing it removes it from the query.
        item.querySelectorAll("select").forEach(function (s) { s.selectedIndex = 0; });
        item.querySelectorAll("input[type=text], input:not([type])").forEach(function (i) { i.value = ""; });
        syncRow(item);
      }
    } else if (target.classList.contains("qb-add")) {
      var listBox = target.closest(".qb-list");
      var rows = listBox.querySelectorAll(":scope > .qb-row");
      var copy = rows[rows.length - 1].cloneNode(true);
      copy.querySelectorAll("select").forEach(function (s) { s.selectedIndex = 0; });
      copy.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      listBox.insertBefore(copy, target);
      syncRow(copy);
    }
  });

  function addJoin() {
    var button = form.querySelector(".qb-join-add button");
    if (form.requestSubmit) form.requestSubmit(button); else form.submit();
  }

  // Whether the join select was last worked with the keyboard (then a change only browses).
  form.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLElement) || !target.classList.contains("qb-join-choice")) return;
    if (event.key === "Enter" && target.value) {
      event.preventDefault();
      addJoin();
      return;
    }
    if (event.key !== "Tab") target.dataset.keyed = "1";
  });
  form.addEventListener("pointerdown", function (event) {
    var target = event.target;
    if (target instanceof HTMLElement && target.classList.contains("qb-join-choice")) {
      delete target.dataset.keyed;
    }
  });

  form.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLElement)) return;
    if (target.classList.contains("qb-join-choice") && target.value) {
      // A choice picked from the list adds the join at once; one reached with the arrow keys
      // is only browsed (each arrow is a change): Enter or the "Add join" button adds it.
      if (!target.dataset.keyed) addJoin();
      return;
    }
    var row = target.closest(".qb-row");
    if (row) syncRow(row);
  });

  // The share link selects itself when focused, ready to copy (no inline handler: the
  // Content-Security-Policy runs scripts from files only).
  var share = document.querySelector(".qb-share");
  if (share) share.addEventListener("focus", function () { share.select(); });

  syncAll(form);
})();
