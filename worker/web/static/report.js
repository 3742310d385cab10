// The report page: r = review and next, n = next report, u = back to the list.
(function () {
  "use strict";
  const form = document.getElementById("review");
  document.querySelectorAll(".verdict select").forEach((select) => {
    select.addEventListener("change", () => {
      if (select.value) {
        const code = select.id.replace(/^reason-/, "");
        const disagree = document.getElementById("disagree-" + code);
        if (disagree) disagree.checked = true;
      }
    });
  });
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, select, textarea, summary")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "r") {
      const button = document.getElementById("review-next");
      if (button && form) { form.requestSubmit(button); event.preventDefault(); }
    } else if (event.key === "n") {
      const next = document.getElementById("next-report");
      if (next) { window.location.href = next.getAttribute("href"); event.preventDefault(); }
    } else if (event.key === "u") {
      window.location.href = document.getElementById("back").getAttribute("href");
      event.preventDefault();
    }
  });
})();
