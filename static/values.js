// Numbers read the way the browser's locale writes them: 11170334 as 11,170,334 in en-US,
// 11.170.334 in de-DE, 11 170 334 in fr-FR. The page's text stays the exact stored value
// (what is copied, searched and read by tests): each digit group becomes a <span>, and the
// separators are drawn by CSS from data attributes (rowboat.css, "Reading values"). No
// number goes through a float: the digits are grouped as a BigInt, the fraction kept as stored.
(function () {
  "use strict";
  if (typeof Intl === "undefined" || typeof BigInt === "undefined") return;
  var format;
  try {
    format = new Intl.NumberFormat(undefined, { useGrouping: true, maximumFractionDigits: 0 });
    format.formatToParts(BigInt(1));
  } catch (e) {
    return; // a browser that cannot format a BigInt: the numbers stay as stored
  }
  var decimal = ".";
  new Intl.NumberFormat(undefined).formatToParts(1.5).forEach(function (part) {
    if (part.type === "decimal") decimal = part.value;
  });
  var NUMBER = /^(-?)(\d+)(?:\.(\d+))?$/;

  function span(cls, text, attr, value) {
    var s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    if (attr) s.setAttribute(attr, value);
    return s;
  }

  // The nodes that show ``digits`` grouped, or null when the locale's digits are not these
  // (another numbering system): then nothing changes.
  function grouped(digits) {
    var nodes = [];
    var separator = null;
    var seen = "";
    var parts = format.formatToParts(BigInt(digits));
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      if (part.type === "integer") {
        nodes.push(span("dg", part.value, separator === null ? null : "data-gs", separator));
        seen += part.value;
        separator = null;
      } else if (part.type === "group") {
        separator = part.value;
      } else {
        return null;
      }
    }
    return seen === digits ? nodes : null;
  }

  function groupCell(cell) {
    if (cell.childElementCount) return; // NULL, a link: not a bare number
    var text = cell.textContent;
    var match = NUMBER.exec(text.trim());
    if (!match || match[2].length > 300) return;
    if (/^0\d/.test(match[2])) return; // leading zeros ("007"): shown as stored
    var nodes = grouped(match[2]);
    if (!nodes) return;
    var lead = text.slice(0, text.indexOf(match[0]));
    var trail = text.slice(text.indexOf(match[0]) + match[0].length);
    cell.textContent = "";
    cell.append(lead + match[1]);
    nodes.forEach(function (node) { cell.appendChild(node); });
    if (match[3] !== undefined) {
      if (decimal === ".") {
        cell.append("." + match[3]);
      } else {
        var mark = span("ds", "", "data-ds", decimal);
        mark.appendChild(span("dot", "."));
        cell.appendChild(mark);
        cell.append(match[3]);
      }
    }
    cell.append(trail);
    if (cell.textContent !== text) cell.textContent = text; // never alter the value
  }

  // Counts (the home and schema pages' row counts, a list's "1,234 rows", a row page's
  // "See all 1,234"): the server writes them with commas, as display text, not data.
  var COUNT = /\d{1,3}(?:,\d{3})+(?!\d)/g;
  function groupCounts(element) {
    var walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      if (COUNT.test(node.data)) {
        node.data = node.data.replace(COUNT, function (text) {
          return format.format(BigInt(text.replace(/,/g, "")));
        });
      }
      COUNT.lastIndex = 0;
    }
  }

  document.querySelectorAll("td.grp").forEach(groupCell);
  document.querySelectorAll(
    "p.count, .counted .shown, table.tables td.num, section.related h2 small, section.related a.all"
  ).forEach(groupCounts);
})();
