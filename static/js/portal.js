// Page-wide behaviour for htmx: the CSRF token on every request, and focus after swaps.
(function () {
  "use strict";

  // Every non-GET request htmx makes carries the CSRF token from the page's meta tag.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && event.detail.verb !== "get") {
      event.detail.headers["X-CSRFToken"] = meta.content;
    }
  });

  // After a form comes back with errors, move focus to the first field that needs attention,
  // so a screen reader or a phone keyboard lands where the fix is.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 422) {
      var invalid = event.detail.target.querySelector('[aria-invalid="true"]');
      if (invalid) { invalid.focus(); }
    }
  });

  // A submit button is disabled while its form is in flight: a double tap sends one request.
  // (The server is idempotent anyway; this only spares the seller a confusing second answer.)
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.submitting === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.submitting = "1";
    window.setTimeout(function () { delete form.dataset.submitting; }, 5000);
  });
})();
