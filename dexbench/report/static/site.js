// Sortable leaderboards: a button in each column header; keyboard-accessible by being a real <button>.
// First activation sorts best-first (by the column's declared direction), the next one reverses. Cells without a
// value (unavailable metrics) always sort last. The state is exposed with aria-sort and announced politely.
(function () {
  "use strict";
  function valueOf(cell, numeric) {
    var raw = cell ? cell.getAttribute("data-value") : null;
    if (raw === null || raw === "") { return null; }
    if (!numeric) { return raw; }
    var x = Number(raw);
    return isFinite(x) ? x : null;
  }
  function sortBy(table, th) {
    var index = th.cellIndex;
    var numeric = th.getAttribute("data-type") === "num";
    var current = th.getAttribute("aria-sort");
    var bestFirst = numeric && th.getAttribute("data-hib") === "1" ? "descending" : "ascending";
    var dir = current === bestFirst ? (bestFirst === "ascending" ? "descending" : "ascending") : bestFirst;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = valueOf(a.cells[index], numeric), y = valueOf(b.cells[index], numeric);
      if (x === null || y === null) {
        if (x === y) { return Number(a.getAttribute("data-order")) - Number(b.getAttribute("data-order")); }
        return x === null ? 1 : -1;
      }
      var c = numeric ? x - y : String(x).localeCompare(String(y));
      if (dir === "descending") { c = -c; }
      return c !== 0 ? c : Number(a.getAttribute("data-order")) - Number(b.getAttribute("data-order"));
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(th.parentNode.cells, function (h) {
      if (h.hasAttribute("aria-sort")) { h.setAttribute("aria-sort", "none"); }
    });
    th.setAttribute("aria-sort", dir);
    var live = document.getElementById("sort-status");
    if (live) { live.textContent = "Sorted by " + th.getAttribute("data-label") + ", " + dir + "."; }
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-sortable] table"), function (table) {
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r, i) { r.setAttribute("data-order", String(i)); });
    Array.prototype.forEach.call(table.querySelectorAll("thead th button"), function (button) {
      button.addEventListener("click", function () { sortBy(table, button.parentNode); });
    });
  });
})();
