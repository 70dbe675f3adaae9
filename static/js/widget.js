// The embedded status widget: refresh like the seller's timeline, rest while hidden, stop when
// final, and tell the embedding page (only an allowed origin, named explicitly) how tall we are.
(function () {
  "use strict";
  var root = document.getElementById("widget");
  var timer = null;

  function tellHeight() {
    var parentOrigin = root.getAttribute("data-parent");
    if (parentOrigin && window.parent !== window) {
      // The body's own height (not the document's scroll height, which never drops below the
      // frame's current height), so the frame shrinks when the content does.
      var height = Math.ceil(document.body.getBoundingClientRect().height);
      window.parent.postMessage({ type: "refund-widget:height", height: height }, parentOrigin);
    }
  }

  function schedule() {
    window.clearTimeout(timer);
    var seconds = parseInt(root.getAttribute("data-interval"), 10) || 0;
    if (seconds > 0 && root.getAttribute("data-final") !== "1") {
      timer = window.setTimeout(refresh, seconds * 1000);
    }
  }

  function refresh() {
    if (document.hidden) { return; }  // visibilitychange asks again when the tab is shown
    var url = root.getAttribute("data-status-url") + "&v=" + encodeURIComponent(root.getAttribute("data-version"));
    window.fetch(url, { credentials: "omit", cache: "no-store" }).then(function (response) {
      if (response.status === 404) {
        // Revoked or rotated: say so, and stop asking.
        root.setAttribute("data-final", "1");
        root.textContent = root.getAttribute("data-gone");
        tellHeight();
        return null;
      }
      if (response.status === 429) {
        var wait = parseInt(response.headers.get("Retry-After"), 10) || 60;
        root.setAttribute("data-interval", String(Math.max(wait, parseInt(root.getAttribute("data-interval"), 10) || 0)));
        return null;
      }
      if (response.status !== 200) { return null; }
      root.setAttribute("data-version", response.headers.get("X-Widget-Version") || "");
      root.setAttribute("data-final", response.headers.get("X-Widget-Final") || "0");
      root.setAttribute("data-interval", response.headers.get("X-Widget-Interval") || "0");
      return response.text().then(function (html) { root.innerHTML = html; tellHeight(); });
    }).catch(function () { /* offline for a moment: try again at the next interval */ })
      .then(schedule);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && root.getAttribute("data-final") !== "1") { refresh(); }
  });
  window.addEventListener("resize", tellHeight);
  tellHeight();
  schedule();
})();
