/* Light or dark: the operator's choice (kept in this browser's localStorage) or, without
 * one, the system's (prefers-color-scheme). Loaded synchronously in <head> so the theme is
 * on <html data-theme> before the body is painted: no flash of the wrong theme. The toggle
 * button in the top bar is wired once the page is parsed. A file, not inline: the
 * console's Content-Security-Policy runs scripts from 'self' only.
 */
(function () {
  "use strict";
  var KEY = "backoffice-theme";
  var root = document.documentElement;
  var media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function saved() {
    try { var v = window.localStorage.getItem(KEY); return v === "dark" || v === "light" ? v : null; }
    catch (e) { return null; }  // storage refused (private mode, policy): follow the system
  }

  function current() { return saved() || (media && media.matches ? "dark" : "light"); }

  function apply(theme) {
    root.setAttribute("data-theme", theme);
    var button = document.querySelector(".backoffice-theme-toggle");
    if (button) button.setAttribute("aria-pressed", theme === "dark" ? "true" : "false");
  }

  apply(current());

  if (media && media.addEventListener) {
    media.addEventListener("change", function () { if (!saved()) apply(current()); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    apply(current());
    var button = document.querySelector(".backoffice-theme-toggle");
    if (!button) return;
    button.addEventListener("click", function () {
      var next = current() === "dark" ? "light" : "dark";
      try { window.localStorage.setItem(KEY, next); } catch (e) { /* this page only */ }
      apply(next);
    });
  });
})();
