/* Review queue keys. Served locally; no dependencies.
 *
 * On the queue page: j / k move between proposals, a / r / d press the focused
 * proposal's Apply / Reject / Defer button, which posts to the server's confirmation
 * page (the same CSRF token, confirmation and audit as a click). Enter in the "score at
 * least" box presses "Apply those", not the first button of the form.
 * On a confirmation page: Enter confirms (outside the reason box, where Enter is a new
 * line), Esc follows the Cancel link.
 */
(function () {
  "use strict";

  var ACTIONS = { a: "apply", r: "reject", d: "defer" };

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function items() {
    return Array.prototype.slice.call(document.querySelectorAll("tr.queue-item"));
  }

  function focused() {
    var active = document.activeElement;
    return active && active.closest ? active.closest("tr.queue-item") : null;
  }

  function move(step) {
    var rows = items();
    if (!rows.length) return;
    var at = rows.indexOf(focused());
    var next = at < 0 ? (step > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, at + step));
    rows.forEach(function (row) { row.classList.remove("queue-focused"); row.removeAttribute("aria-current"); });
    rows[next].classList.add("queue-focused");
    rows[next].setAttribute("aria-current", "true");
    rows[next].focus();
    rows[next].scrollIntoView({ block: "nearest" });
  }

  function act(name) {
    var row = focused();
    if (!row) return false;
    var button = row.querySelector('button[name="row_action"][value^="' + name + ':"]');
    if (!button) return false;
    button.click();
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var confirmForm = document.querySelector("form[data-backoffice-confirm-keys]");
    if (confirmForm) {
      if (event.key === "Escape") {
        var cancel = confirmForm.querySelector("[data-backoffice-cancel]");
        if (cancel) { event.preventDefault(); window.location.assign(cancel.href); }
      } else if (event.key === "Enter" && !(target && target.tagName === "TEXTAREA") &&
                 !(target && /^(A|BUTTON)$/.test(target.tagName))) {
        event.preventDefault();
        if (confirmForm.requestSubmit) confirmForm.requestSubmit(); else confirmForm.submit();
      }
      return;
    }
    if (target && target.id === "at_least" && event.key === "Enter") {
      var those = document.querySelector(".queue-apply-at-least");
      if (those) { event.preventDefault(); those.click(); }
      return;
    }
    if (typing(target) || !document.querySelector("tr.queue-item")) return;
    if (event.key === "j" || event.key === "k") {
      event.preventDefault();
      move(event.key === "j" ? 1 : -1);
    } else if (ACTIONS[event.key] && act(ACTIONS[event.key])) {
      event.preventDefault();
    }
  });
})();
