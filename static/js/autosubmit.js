// A control marked data-autosubmit submits its form when changed (the inbox's "clean only" filter).
// A static file instead of an onchange="" attribute: the Content-Security-Policy runs no inline script.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var control = event.target;
    if (control.form && control.hasAttribute("data-autosubmit")) control.form.submit();
  });
})();
