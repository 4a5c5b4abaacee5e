// AVSEC Exchange console: progressive enhancement only. Every page works without it.
// It never builds HTML from data: it fetches fragments the console rendered (escaped)
// and swaps DOM nodes, or sets textContent. No eval, no inline handlers (the CSP forbids them).
"use strict";

function swapFrom(url, selector) {
  return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
    .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
    .then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var fresh = doc.querySelector(selector);
      var old = document.querySelector(selector);
      if (fresh && old) { old.replaceWith(document.importNode(fresh, true)); }
    });
}

function showLive() {
  var live = document.getElementById("live");
  if (live) { live.hidden = false; }
}

function inboxLive() {
  if (!window.EventSource) { return; }
  var events = new EventSource("/events");
  var pending = false;
  function refresh() {
    if (pending) { return; }
    pending = true;
    setTimeout(function () {
      pending = false;
      swapFrom("/inbox/rows" + window.location.search, "#rows");
    }, 150);
  }
  // Anything that arrived between this page's rendering and the subscription: fetch once.
  events.addEventListener("hello", function () { showLive(); refresh(); });
  events.addEventListener("bulletin", refresh);
  events.addEventListener("ack", refresh);
}

function ledgerLive() {
  var table = document.getElementById("ledger");
  if (!table) { return; }
  var src = table.getAttribute("data-src");
  showLive();
  setInterval(function () { swapFrom(src, "#ledger-rows"); }, 2000);
}

document.addEventListener("DOMContentLoaded", function () {
  var page = document.body.getAttribute("data-page");
  if (page === "inbox") { inboxLive(); }
  if (page === "ledger") { ledgerLive(); }
  var type = document.getElementById("f-type");
  if (type && type.form) {
    type.addEventListener("change", function () {
      var button = type.form.querySelector("button[value=change-type]");
      if (button) { button.click(); }
    });
  }
});
