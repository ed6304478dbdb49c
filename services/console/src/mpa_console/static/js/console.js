/* Small progressive enhancements; every page works without them. No storage is used. */
(function () {
  "use strict";
  var csrf = document.body.getAttribute("data-csrf");

  // htmx requests carry the CSRF token as a header (forms carry it as a field).
  document.body.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrf;
  });

  // A form marked data-once can be sent once: a second click does nothing while the first
  // is on its way (the server's Idempotency-Key still guards against any double submit).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-once")) return;
    var submitter = event.submitter;
    if (submitter && submitter.value !== "register") return;
    if (form.getAttribute("data-sent") === "yes") {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-sent", "yes");
  });

  // htmx notes the current path in sessionStorage when it loads, for a history feature the
  // console turns off; the console keeps nothing in browser storage, so it goes again.
  try { window.sessionStorage.removeItem("htmx-current-path-for-history"); } catch (e) {}

  // Bring the error summary into view and focus, so keyboard and screen-reader users
  // land on what needs correcting.
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();
