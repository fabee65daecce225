// Live updates: a page whose #live names a stream swaps in each fragment the server
// sends (rendered and escaped there), and stops when the server says the run is done.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  const url = live && live.dataset.stream;
  if (!url || !window.EventSource) {
    return;
  }
  const source = new EventSource(url);
  source.addEventListener("update", (event) => {
    const open = new Set(
      Array.from(live.querySelectorAll("tr.step details[open]"), (d) => d.closest("tr").dataset.step)
    );
    live.innerHTML = event.data;
    live.querySelectorAll("tr.step").forEach((row) => {
      if (open.has(row.dataset.step)) {
        row.querySelector("details").open = true;
      }
    });
    live.dataset.updates = String(Number(live.dataset.updates || "0") + 1);
  });
  source.addEventListener("done", () => {
    source.close();
    live.dataset.done = "true";
  });
});
