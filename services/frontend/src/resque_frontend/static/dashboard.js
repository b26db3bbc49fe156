// resque.py dashboard: live refresh and confirmations. Pages work without this file.
(function () {
  "use strict";

  // Destructive forms carry data-confirm: ask here, then tell the server it was confirmed
  // (without JavaScript the server shows its own confirmation page instead).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (!question) return;
    if (!window.confirm(question)) { event.preventDefault(); return; }
    if (!form.querySelector("input[name=confirm]")) {
      var field = document.createElement("input");
      field.type = "hidden"; field.name = "confirm"; field.value = "yes";
      form.appendChild(field);
    }
  });

  // A message from the last action is shown once; refreshes and reloads drop it.
  var url = new URL(window.location.href);
  if (url.searchParams.has("notice")) {
    url.searchParams.delete("notice");
    url.searchParams.delete("n");
    window.history.replaceState(null, "", url.toString());
  }

  var main = document.getElementById("content");
  var control = document.querySelector("[data-live-control]");
  if (!main || !control || main.getAttribute("data-live") !== "on") return;

  var seconds = parseFloat(document.body.getAttribute("data-refresh")) || 3;
  var status = control.querySelector("[data-live-status]");
  var toggle = control.querySelector("[data-live-toggle]");
  var storageKey = "resque-live-paused";
  var paused = window.localStorage.getItem(storageKey) === "1";
  var timer = null;

  function show() {
    control.hidden = false;
    control.classList.toggle("paused", paused);
    status.textContent = paused ? "Paused" : "Live";
    toggle.textContent = paused ? "Resume" : "Pause";
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");
  }

  function swap(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    var fresh = page.getElementById("content");
    var nav = page.getElementById("nav");
    if (fresh) main.innerHTML = fresh.innerHTML;
    if (nav) document.getElementById("nav").innerHTML = nav.innerHTML;
  }

  function refresh() {
    timer = null;
    if (paused || document.hidden) return schedule();
    control.classList.add("updating");
    fetch(window.location.href, { headers: { "X-Live-Refresh": "1" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        swap(html);
        control.classList.remove("failed");
        status.textContent = "Live";
      })
      .catch(function () {
        control.classList.add("failed");
        status.textContent = "Offline";
      })
      .then(function () {
        control.classList.remove("updating");
        schedule();
      });
  }

  function schedule() {
    if (timer === null) timer = window.setTimeout(refresh, seconds * 1000);
  }

  toggle.addEventListener("click", function () {
    paused = !paused;
    window.localStorage.setItem(storageKey, paused ? "1" : "0");
    show();
    if (!paused) { window.clearTimeout(timer); timer = null; refresh(); }
  });
  show();
  schedule();
})();
