/* kernel-explorer: locals and parameters on source pages.
 * A local or parameter is <a data-l=N> (N numbers the locals of the file, one per local of each
 * function; class "ld" at its declaration).  Hovering one highlights its declaration and every
 * use in its function; a click keeps the highlight (a second click, or Escape, drops it).  No
 * page load, no request: the marks are in the page. */
(function () {
  "use strict";
  var groups = null; /* N → its elements, built on first use in one pass over the page */
  function group(id) {
    if (!groups) {
      groups = new Map();
      document.querySelectorAll(".kx-code a[data-l]").forEach(function (a) {
        var key = a.getAttribute("data-l");
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key).push(a);
      });
    }
    return groups.get(id) || [];
  }
  var hovered = null, pinned = null;
  function mark(id, on) {
    if (id === null) return;
    group(id).forEach(function (a) { a.classList.toggle("kx-lhl", on); });
  }
  function localOf(target) {
    return target instanceof Element ? target.closest(".kx-code a[data-l]") : null;
  }
  document.addEventListener("mouseover", function (ev) {
    var a = localOf(ev.target);
    var id = a ? a.getAttribute("data-l") : null;
    if (id === hovered) return;
    if (hovered !== null && hovered !== pinned) mark(hovered, false);
    hovered = id;
    mark(id, true);
  });
  document.addEventListener("mouseout", function (ev) {
    var a = localOf(ev.target);
    if (!a || (ev.relatedTarget instanceof Node && a.contains(ev.relatedTarget))) return;
    if (hovered !== null && hovered !== pinned) mark(hovered, false);
    hovered = null;
  });
  document.addEventListener("click", function (ev) {
    var a = localOf(ev.target);
    if (!a) return;
    var id = a.getAttribute("data-l");
    if (pinned !== null) mark(pinned, false);
    pinned = pinned === id ? null : id;
    mark(id, pinned !== null || hovered === id);
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape" || pinned === null) return;
    mark(pinned, false);
    pinned = null;
  });
})();
