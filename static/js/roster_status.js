// Follows a queued roster import: polls the API's status endpoint, moves the progress bar,
// and reloads the page once the import is done or failed (the page then shows the claim or the errors).
(function () {
  "use strict";
  var box = document.getElementById("roster-status");
  if (!box) return;
  var url = box.getAttribute("data-status-url");
  var status = box.getAttribute("data-status");
  var bar = box.querySelector("progress");
  var label = box.querySelector("[data-status-label]");
  var text = box.querySelector("[data-progress-text]");
  var saving = box.querySelector("[data-saving]");
  var template = text ? text.textContent : "";
  var delay = 800;

  function show(data) {
    bar.max = Math.max(data.row_count, 1);
    bar.value = data.processed_rows;
    if (text) {
      // "已检查 0 / 1200 行": replace the two numbers, keep the words of the page's language.
      var numbers = 0;
      text.textContent = template.replace(/\d+/g, function (n) {
        numbers += 1;
        return numbers === 1 ? String(data.processed_rows) : numbers === 2 ? String(data.row_count) : n;
      });
    }
    var name = box.getAttribute("data-label-" + data.status);
    if (label && name) {
      label.textContent = name;
      label.className = "status roster-" + data.status;
    }
    if (saving) saving.hidden = !(data.status === "processing" && data.processed_rows >= data.row_count);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (data) {
        show(data);
        if (data.status === "done" || data.status === "failed") {
          window.location.reload();
          return;
        }
        status = data.status;
        delay = 800;
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        delay = Math.min(delay * 2, 10000); // the server is busy or away: try again, less often
        window.setTimeout(poll, delay);
      });
  }

  if (status !== "done" && status !== "failed") window.setTimeout(poll, 300);
})();
