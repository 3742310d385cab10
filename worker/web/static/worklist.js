// The worklist: keyboard (j/k move, Enter open, r review, / search) and live updates.
(function () {
  "use strict";
  const body = document.getElementById("worklist-body");
  if (!body) return;
  const pollMs = Math.max(1, Number(body.dataset.poll || 3)) * 1000;
  const list = body.dataset.list || "";
  const signedIn = !!document.getElementById("signed-in");
  let selected = null; // public id of the selected row
  let known = new Set(rowIds());
  let stamp = null;

  function rows() { return Array.from(body.querySelectorAll("#worklist tbody tr")); }
  function rowIds() { return rows().map((r) => r.dataset.id); }

  function select(row) {
    rows().forEach((r) => r.classList.remove("is-selected"));
    if (!row) { selected = null; return; }
    row.classList.add("is-selected");
    selected = row.dataset.id;
    row.scrollIntoView({ block: "nearest", inline: "nearest" });
    window.scrollTo({ left: 0, top: window.scrollY });
  }
  function current() { return rows().find((r) => r.dataset.id === selected) || null; }
  function move(step) {
    const all = rows();
    if (!all.length) return;
    const at = all.indexOf(current());
    const next = at < 0 ? 0 : Math.min(all.length - 1, Math.max(0, at + step));
    select(all[next]);
  }
  function open(row) {
    const link = row && row.querySelector("a.open");
    if (link) window.location.href = link.getAttribute("href");
  }

  async function review(row) {
    if (!row) return;
    if (!signedIn || body.dataset.mayReview !== "1") { open(row); return; }
    const form = new URLSearchParams({ csrf_token: body.dataset.csrf, list: list, then: "list" });
    const answer = await fetch("/reports/" + row.dataset.id + "/reviewed", {
      method: "POST", body: form, credentials: "same-origin", redirect: "manual",
      headers: { "X-Requested-With": "radflag" },
    });
    if (answer.type !== "opaqueredirect" && !answer.ok) { open(row); return; }
    const all = rows();
    const after = all[all.indexOf(row) + 1] || all[all.indexOf(row) - 1];
    selected = after ? after.dataset.id : null;
    await refresh(false);
  }

  async function refresh(announce) {
    // The search term (maybe a patient's name) goes in a POST body, never in a URL.
    const url = "/?" + (list ? list + "&" : "") + "page=" + (body.dataset.page || "1");
    const answer = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { Accept: "text/html", "X-Requested-With": "radflag" },
      body: new URLSearchParams({ q: body.dataset.q || "", partial: "1" }),
    });
    if (answer.status === 401) { window.location.reload(); return; } // logged out: to the login
    if (!answer.ok) return;
    const keep = selected;
    body.innerHTML = await answer.text();
    const state = document.getElementById("state");
    if (state) {
      document.getElementById("match-count").textContent = state.dataset.total;
      document.getElementById("unreviewed-count").textContent = state.dataset.unreviewed;
    }
    const fresh = rows().filter((r) => !known.has(r.dataset.id));
    fresh.forEach((r) => r.classList.add("is-new"));
    known = new Set(rowIds());
    if (announce) {
      const urgent = fresh.filter((r) => r.dataset.priority === "urgent");
      if (urgent.length) {
        const alert = document.getElementById("urgent-alert");
        alert.textContent = urgent.length === 1 ? "New urgent report arrived (highlighted below)."
          : urgent.length + " new urgent reports arrived (highlighted below).";
        alert.hidden = false;
        document.title = "(" + urgent.length + " urgent) " + document.title.replace(/^\(\d+ urgent\) /, "");
      }
    }
    const again = rows().find((r) => r.dataset.id === keep);
    if (again) select(again); else if (keep === null && rows().length && !announce) select(rows()[0]);
  }

  async function poll() {
    try {
      const answer = await fetch("/worklist/state", {
        credentials: "same-origin", headers: { "X-Requested-With": "radflag" },
      });
      if (answer.status === 401) { window.location.reload(); return; } // session ended
      if (answer.ok) {
        const state = await answer.json();
        const seen = state.stamp + "|" + state.flagged + "|" + state.unreviewed;
        if (stamp !== null && seen !== stamp) await refresh(true);
        stamp = seen;
      }
    } catch (e) { /* the next poll tries again */ }
    window.setTimeout(poll, pollMs);
  }

  body.addEventListener("click", (event) => {
    const row = event.target.closest("#worklist tbody tr");
    if (row && !event.target.closest("a")) select(row);
  });
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest("input, select, textarea");
    if (typing) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "j" || event.key === "ArrowDown") { move(1); event.preventDefault(); }
    else if (event.key === "k" || event.key === "ArrowUp") { move(-1); event.preventDefault(); }
    else if (event.key === "Enter") { open(current()); event.preventDefault(); }
    else if (event.key === "r") { review(current()); event.preventDefault(); }
    else if (event.key === "/") { document.getElementById("search").focus(); event.preventDefault(); }
  });
  if (rows().length) select(rows()[0]);
  window.setTimeout(poll, 0);
})();
