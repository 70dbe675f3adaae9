// Refund status widget loader: <div data-refund-widget="TOKEN" data-lang="en"></div>
// becomes an iframe from the portal that keeps its own height right.
(function () {
  "use strict";
  var script = document.currentScript;
  var portal = new URL(script.src).origin;
  Array.prototype.forEach.call(document.querySelectorAll("[data-refund-widget]"), function (node) {
    if (node.getAttribute("data-refund-widget-ready")) { return; }
    node.setAttribute("data-refund-widget-ready", "1");
    var frame = document.createElement("iframe");
    var src = portal + "/embed/" + encodeURIComponent(node.getAttribute("data-refund-widget")) +
      "?parent=" + encodeURIComponent(window.location.origin);
    var lang = node.getAttribute("data-lang");
    if (lang) { src += "&lang=" + encodeURIComponent(lang); }
    frame.src = src;
    frame.title = node.getAttribute("data-title") || "Refund status";
    frame.setAttribute("referrerpolicy", "no-referrer");
    frame.style.width = "100%";
    frame.style.height = "140px";
    frame.style.border = "0";
    node.appendChild(frame);
    // Only our own frame, from the portal's origin, may set its height.
    window.addEventListener("message", function (event) {
      var data = event.data;
      if (event.origin !== portal || event.source !== frame.contentWindow || !data) { return; }
      if (data.type === "refund-widget:height" && typeof data.height === "number") {
        frame.style.height = Math.min(Math.max(Math.ceil(data.height), 60), 2000) + "px";
      }
    });
  });
})();
