// The result page's poll of /pay/status/{payment}?token=… while the payment is not final.
// Once the server says it is final the page reloads, to show the server-rendered outcome
// (headline, "try again", "back to the shop"); that page has no script, so polling stops.
// Served by the hub as a file, so the page's CSP needs no inline script.
(function () {
  "use strict";
  var root = document.getElementById("result");
  if (!root || root.dataset.final === "true") return;
  var statusUrl = root.dataset.statusUrl;
  var delay = 1000;
  function poll() {
    fetch(statusUrl, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (d) {
        if (d.final) { window.location.reload(); return; }
        delay = Math.min(delay * 1.5, 5000);
        setTimeout(poll, delay);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, delay);
})();
