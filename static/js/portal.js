// Page-wide behaviour: the CSRF token for htmx, focus after errors, confirmations, one submit per
// tap, and live polling that rests while the tab is hidden.
(function () {
  "use strict";

  // Every non-GET request htmx makes carries the CSRF token from the page's meta tag.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && event.detail.verb !== "get") {
      event.detail.headers["X-CSRFToken"] = meta.content;
    }
  });

  // A live poll does not run while the tab is hidden (no battery or data spent on a page
  // nobody sees); when the tab is shown again it asks at once, so the page catches up.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (document.hidden && event.detail.elt.hasAttribute("data-poll")) {
      event.preventDefault();
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      document.body.dispatchEvent(new CustomEvent("portal:resume"));
    }
  });

  // Uploads show their progress, which matters on a slow mobile connection.
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target.closest && event.target.closest("[data-upload]");
    var bar = form && form.querySelector(".upload-progress");
    if (bar && event.detail.lengthComputable) {
      bar.hidden = false;
      bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
    }
  });

  // A file input lists the files chosen, with their sizes, under its button: the browser's own
  // "3 files" says nothing about which, and a phone's picker makes a wrong pick easy.
  function sizeText(bytes) {
    if (bytes >= 1048576) { return (bytes / 1048576).toFixed(1) + " MB"; }
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }
  function listChosenFiles(input) {
    var list = input.parentNode.querySelector(".chosen-files");
    if (!list) {
      list = document.createElement("ul");
      list.className = "chosen-files";
      list.setAttribute("aria-live", "polite");
      input.insertAdjacentElement("afterend", list);
    }
    list.textContent = "";
    Array.prototype.forEach.call(input.files || [], function (file) {
      var item = document.createElement("li");
      var name = document.createElement("span");
      var size = document.createElement("span");
      name.textContent = file.name;
      size.className = "size";
      size.textContent = sizeText(file.size);
      item.appendChild(name);
      item.appendChild(size);
      list.appendChild(item);
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches('input[type="file"]')) { listChosenFiles(event.target); }
  });
  // A form that was sent and came back (htmx) starts with no file chosen: drop the stale list.
  document.addEventListener("htmx:afterSwap", function (event) {
    Array.prototype.forEach.call(event.detail.target.querySelectorAll('input[type="file"]'), listChosenFiles);
  });

  // Copy buttons for the widget snippets.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button || !navigator.clipboard) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    navigator.clipboard.writeText(source.textContent).then(function () {
      button.textContent = button.getAttribute("data-copied");
    });
  });

  // An inline action that fails says so instead of doing nothing; polls stay quiet (they retry).
  function showProblem(event, kind) {
    var box = document.getElementById("request-problem");
    if (!box || event.detail.elt.hasAttribute("data-poll")) { return; }
    box.textContent = box.getAttribute(kind);
    box.hidden = false;
  }
  document.addEventListener("htmx:sendError", function (event) { showProblem(event, "data-offline"); });
  document.addEventListener("htmx:responseError", function (event) { showProblem(event, "data-failed"); });
  document.addEventListener("htmx:afterRequest", function (event) {
    var box = document.getElementById("request-problem");
    if (box && event.detail.successful && !event.detail.elt.hasAttribute("data-poll")) { box.hidden = true; }
  });

  // A confirmation shows where the action was taken, not scrolled out of view. After a redirect to
  // an anchor (a widget card, say) the page's message moves into that element; after an htmx swap
  // the swapped notice is scrolled into view. Without JavaScript the message stays at the top.
  function showNear(notice) {
    var box = notice.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) { notice.scrollIntoView({block: "nearest"}); }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var flash = document.querySelector("main > .flash[role=status]");
    var anchor = window.location.hash && document.getElementById(window.location.hash.slice(1));
    if (flash && anchor && anchor.closest("main") && !anchor.contains(flash)) {
      anchor.insertBefore(flash, anchor.firstElementChild ? anchor.firstElementChild.nextSibling : null);
      showNear(flash);
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var notice = event.detail.target.querySelector && event.detail.target.querySelector(
      ".flash[role=status], [role=alert]:not([hidden])");
    if (notice && !event.detail.elt.hasAttribute("data-poll")) { showNear(notice); }
  });

  // After a form comes back with errors, move focus to the first field that needs attention,
  // so a screen reader or a phone keyboard lands where the fix is.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 422) {
      var invalid = event.detail.target.querySelector('[aria-invalid="true"]');
      if (invalid) { invalid.focus(); }
    }
  });

  // Irreversible steps ask first (forms marked data-confirm). An htmx form sends its request from
  // its own submit handler, before a page-level submit listener could stop it: htmx:confirm is
  // where htmx waits for an answer, so ask there, and go on only on "OK".
  // An amount as the server parses it (money.parse_yuan): digits, optional thousands commas, at most
  // two decimals, more than zero and at most data-max-fen. Empty means "the whole amount".
  function amountFen(text) {
    var cleaned = text.trim().replace(/，/g, ",").replace(/。/g, ".");
    if (cleaned === "") { return null; }
    var match = /^(\d{1,3}(,\d{3})+|\d+)(\.(\d{0,2}))?$/.exec(cleaned);
    if (!match) { return NaN; }
    var fraction = (match[4] || "").padEnd(2, "0");
    return parseInt(match[1].replace(/,/g, ""), 10) * 100 + parseInt(fraction, 10);
  }

  // A form whose question is about an amount (data-confirm-amount names the field) asks only when the
  // amount is one the server would accept; otherwise it goes straight to the server, whose answer
  // puts the reason beside the field. Asking "approve?" about a typo would confirm a refusal.
  function asks(form) {
    var fieldId = form.getAttribute("data-confirm-amount");
    if (!fieldId) { return true; }
    var input = document.getElementById(fieldId);
    if (!input) { return true; }
    var fen = amountFen(input.value);
    if (fen === null) { return true; }
    var max = parseInt(form.getAttribute("data-max-fen"), 10);
    return !isNaN(fen) && fen > 0 && (isNaN(max) || fen <= max);
  }

  document.addEventListener("htmx:confirm", function (event) {
    // Only the form's own submission asks: a field inside it that fetches something (a reason's
    // message template) must not.
    var form = event.detail.elt;
    if (!form.matches || !form.matches("form[data-confirm]") || !asks(form)) { return; }
    event.preventDefault();
    if (window.confirm(form.getAttribute("data-confirm"))) { event.detail.issueRequest(true); }
  });

  // Plain forms ask in their submit event; a double tap sends one request.
  // (The server is idempotent anyway; this only spares a confusing second answer.)
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !form.hasAttribute("hx-post") && asks(form) && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (form.dataset.submitting === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.submitting = "1";
    window.setTimeout(function () { delete form.dataset.submitting; }, 5000);
  });
})();
