/* Backoffice keyboard helpers. Served locally; no dependencies beyond what
 * Flask-Admin already loads.
 *
 * - "/" (or the browser's access key + S) puts the cursor in the list's search box.
 * - Date fields accept typing: Flask-Admin's date picker re-parsed the field on
 *   every key and wrote the result back, so typing "1978-02-28" became
 *   "0001-01-01978-02-28", and leaving a field that held an impossible date
 *   replaced the text with "Invalid date". Here the picker only follows the text
 *   once it is a complete date, and never writes an invalid one.
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
