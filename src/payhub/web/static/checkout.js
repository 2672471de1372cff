// The hosted checkout's countdown: the page shows the time left when it was rendered;
// this ticks it down each second. Served as a file, so the CSP needs no inline script.
(function () {
  "use strict";
  var el = document.getElementById("countdown");
  if (!el) return;
  var end = Date.now() + 1000 * Number(el.dataset.secondsLeft || 0);
  function tick() {
    var left = Math.max(0, Math.round((end - Date.now()) / 1000));
    if (left === 0) {
      el.textContent = el.dataset.expiredText || "0:00";
      return;
    }
    var s = left % 60;
    el.textContent = Math.floor(left / 60) + ":" + (s < 10 ? "0" : "") + s;
    setTimeout(tick, 1000);
  }
  tick();
})();
