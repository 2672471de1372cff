// The result page's poll of /pay/status/{payment}?token=… until the payment is final.
// Served by the hub as a file, so the page's CSP needs no inline script.
(function () {
  "use strict";
  var root = document.getElementById("result");
  if (!root || root.dataset.final === "true") return;
  var statusUrl = root.dataset.statusUrl;
  function headline(status) {
    if (status === "succeeded") return "Payment received";
    if (status === "review") return "Payment under review";
    return "Payment not completed";
  }
  function show(d) {
    document.getElementById("status").textContent = d.status;
    document.getElementById("order-status").textContent = d.order_status;
    if (d.credit_balance !== null && d.credit_balance !== undefined) {
      var credits = document.getElementById("credits");
      credits.textContent = "Credit balance: ";
      var strong = document.createElement("strong");
      strong.id = "balance";
      strong.textContent = String(d.credit_balance);
      credits.appendChild(strong);
    }
    if (d.final) {
      document.getElementById("headline").textContent = headline(d.status);
      document.getElementById("note").textContent = "";
      return true;
    }
    return false;
  }
  function poll() {
    fetch(statusUrl, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (d) { if (!show(d)) setTimeout(poll, 1000); })
      .catch(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
