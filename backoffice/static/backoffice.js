/* Backoffice keyboard helpers. Served locally; no dependencies beyond what
 * Flask-Admin already loads.
 *
 * - "/" (or the browser's access key + S) puts the cursor in the list's search box.
 * - Date fields accept typing: Flask-Admin's date picker re-parsed the field on
 *   every key and wrote the result back, so typing "1978-02-28" became
 *   "0001-01-01978-02-28", and leaving a field that held an impossible date
 *   replaced the text with "Invalid date". Here the picker only follows the text
 *   once it is a complete date, and never writes an invalid one.
 * - What Flask-Admin's templates did in inline event handlers, which the console's
 *   Content-Security-Policy (script-src 'self') refuses to run: bulk actions
 *   (data-backoffice-action), delete confirmations (data-backoffice-confirm), inline
 *   child rows (data-backoffice-inline-add), "select all" boxes
 *   (data-backoffice-select-all); and links to "javascript:void(0)", which the policy
 *   would report as a violation when clicked, are simply not followed.
 */
(function () {
  "use strict";

  function searchBox() {
    return document.querySelector('form[role="search"] input[name="search"]:not([type="hidden"])');
  }

  function labelSearchBox() {
    var box = searchBox();
    if (!box) return;
    box.setAttribute("accesskey", "s");
    if (!box.getAttribute("aria-label")) box.setAttribute("aria-label", box.getAttribute("placeholder") || "Search");
    box.title = "Search (press / to jump here)";
  }

  function calmDatePickers() {
    var $ = window.jQuery, moment = window.moment;
    if (!$ || !moment) return;
    $('input[data-role="datepicker"], input[data-role="datetimepicker"]').each(function () {
      var $el = $(this), picker = $el.data("daterangepicker");
      if (!picker || picker.backofficeCalm) return;
      picker.backofficeCalm = true;
      var notify = picker.notify;
      picker.notify = function () {
        if (!this.startDate.isValid() || !this.endDate.isValid()) return;  // keep the operator's text
        return notify.apply(this, arguments);
      };
      $el.off("keyup.daterangepicker").on("keyup.daterangepicker", function () {
        var text = $el.val();
        if (text.length === picker.format.length && moment(text, picker.format, true).isValid()) {
          picker.updateFromControl();
        }
      });
    });
  }

  window.addEventListener("load", function () {
    labelSearchBox();
    // Flask-Admin builds its pickers in a jQuery ready callback, which jQuery 3 runs
    // from a timer: queue behind it. Focusing a date field calms it too, whatever ran first.
    window.setTimeout(calmDatePickers, 0);
  });
  document.addEventListener("focusin", function (event) {
    var role = event.target && event.target.getAttribute && event.target.getAttribute("data-role");
    if (role === "datepicker" || role === "datetimepicker") calmDatePickers();
  });

  function closest(event, selector) {
    return event.target && event.target.closest ? event.target.closest(selector) : null;
  }

  document.addEventListener("click", function (event) {
    var link = closest(event, 'a[href^="javascript:"]');
    if (link) event.preventDefault();
    var action = closest(event, "[data-backoffice-action]");
    if (action && window.modelActions) {
      event.preventDefault();
      window.modelActions.execute(action.getAttribute("data-backoffice-action"));
      return;
    }
    var confirmer = closest(event, "[data-backoffice-confirm]");
    if (confirmer && !window.confirm(confirmer.getAttribute("data-backoffice-confirm"))) {
      event.preventDefault();
      return;
    }
    var adder = closest(event, "[data-backoffice-inline-add]");
    if (adder && window.faForm) {
      event.preventDefault();
      window.faForm.addInlineField(adder, adder.getAttribute("data-backoffice-inline-add"));
    }
  }, true);

  document.addEventListener("change", function (event) {
    var all = closest(event, "[data-backoffice-select-all]");
    if (!all) return;
    document.querySelectorAll(all.getAttribute("data-backoffice-select-all")).forEach(function (box) {
      box.checked = all.checked;
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    var box = searchBox();
    if (!box) return;
    event.preventDefault();
    box.focus();
    box.select();
  });
})();
