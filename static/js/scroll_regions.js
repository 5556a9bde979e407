// A table wider than the screen scrolls in its own box (app.css: .table-scroll, and every table on
// a narrow screen): such a box takes the keyboard's focus, so that it can be scrolled without a
// mouse, and is named after its table. Boxes that fit are left out of the tab order.
(function () {
  "use strict";
  var SELECTOR = ".table-scroll, table.data, table.kv";

  function nameOf(box) {
    var table = box.tagName === "TABLE" ? box : box.querySelector("table");
    var caption = table && table.querySelector("caption");
    if (caption) return caption.textContent.trim();
    var section = box.closest("section, details, fieldset");
    var heading = section && section.querySelector("h2, h3, summary, legend");
    return heading ? heading.textContent.replace(/\s+/g, " ").trim() : "";
  }

  function mark() {
    document.querySelectorAll(SELECTOR).forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1 && getComputedStyle(box).overflowX !== "visible";
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("data-scroll-region", "");
        if (box.tagName !== "TABLE") {
          box.setAttribute("role", "region");
          if (!box.hasAttribute("aria-label") && !box.hasAttribute("aria-labelledby")) box.setAttribute("aria-label", nameOf(box));
        }
      } else if (!scrolls && box.hasAttribute("data-scroll-region")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("data-scroll-region");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", mark);
  document.addEventListener("toggle", mark, true); // a <details> opened: its table may now overflow
  var pending;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(mark, 100);
  });
})();
