// dt serve page: live frames over a WebSocket, boxes drawn with the mouse, stats polled from /stats.
"use strict";

const $ = (id) => document.getElementById(id);
const img = $("frame"), stage = $("stage"), rubber = $("rubber");
let received = 0, reselect = null, drag = null, lastTargets = "", frameWidth = 0;   // frame size from /stats
// the server refused this page's cookie (restarted with another token): no more requests, each would count as a
// wrong token against this address; `holdUntil`: told to wait (429) until then
let refused = false, holdUntil = 0;
const asking = () => !refused && Date.now() >= holdUntil;

function say(text) { $("message").textContent = text || ""; }

// no answer at all (dt serve stopped, the link is down): said, and the state shown no longer claims to be live
const GONE = "dt serve does not answer (stopped, or the connection is down); the page reconnects when it is back";

// every URL relative to the page's: behind a reverse proxy the page may live under a path (/tracker/)
async function api(method, path, body) {
  let res;
  try {
    res = await fetch(path, {
      method, headers: body ? {"Content-Type": "application/json"} : {},
      body: body ? JSON.stringify(body) : undefined, credentials: "same-origin",
    });
  } catch (e) {   // the browser's own words: "Failed to fetch"
    throw Object.assign(new Error(GONE), {gone: true});
  }
  const data = await res.json().catch(() => ({}));
  if (res.status === 401) refused = true;
  if (res.status === 429) holdUntil = Date.now() + 1000 * (Number(res.headers.get("Retry-After")) || 1);
  if (!res.ok) {
    const d = data.detail;
    throw new Error(typeof d === "string" ? d : JSON.stringify(d || res.statusText));
  }
  return data;
}

// ---- frames: one JPEG per message; asking for the next one only after drawing keeps a slow page from queueing.
// A hidden page (a tab in the background) asks for none until it is shown again: no frames, no polling for it.
let askNext = null;   // sends the request for the next frame, held while the page is hidden

function connectVideo() {
  const url = new URL("ws/video", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url.href);
  ws.binaryType = "blob";
  ws.onmessage = (ev) => {
    const url = URL.createObjectURL(ev.data);
    img.onload = () => {
      URL.revokeObjectURL(url);
      received += 1;
      $("received").textContent = received;
      askNext = () => { if (ws.readyState === WebSocket.OPEN) ws.send("next"); };
      if (!document.hidden) { askNext(); askNext = null; }
    };
    img.src = url;
  };
  // a closed stream (a restart, a network drop) is opened again unless the server refuses the page (the stats
  // request says why: a WebSocket's refusal is not shown to the page)
  ws.onclose = () => setTimeout(async () => {
    await refresh();
    if (refused) return;
    setTimeout(connectVideo, Math.max(0, holdUntil - Date.now()));
  }, 1000);
}

// ---- drawing a box: page pixels -> image pixels (the image may be shown scaled)
function point(ev) {
  const r = img.getBoundingClientRect();
  return {x: Math.min(Math.max(ev.clientX - r.left, 0), r.width), y: Math.min(Math.max(ev.clientY - r.top, 0), r.height)};
}

// pointer events: a mouse, a finger on a tablet or phone, a pen (the stage neither scrolls nor zooms under them)
stage.addEventListener("pointerdown", (ev) => {
  // a frame was shown (not img.naturalWidth: it is 0 while the next frame loads, the last one staying on view)
  if (!received || !frameWidth || !ev.isPrimary || ev.button > 0) return;
  drag = point(ev);
  stage.setPointerCapture(ev.pointerId);   // the drag's moves and its end come here even off the stage
  Object.assign(rubber.style, {left: drag.x + "px", top: drag.y + "px", width: "0px", height: "0px", display: "block"});
  ev.preventDefault();
});
stage.addEventListener("pointermove", (ev) => {
  if (!drag) return;
  const p = point(ev);
  Object.assign(rubber.style, {left: Math.min(p.x, drag.x) + "px", top: Math.min(p.y, drag.y) + "px",
                               width: Math.abs(p.x - drag.x) + "px", height: Math.abs(p.y - drag.y) + "px"});
});
stage.addEventListener("pointercancel", () => {   // the browser took the gesture over: no box
  drag = null;
  rubber.style.display = "none";
});
stage.addEventListener("pointerup", async (ev) => {
  if (!drag) return;
  const p = point(ev), start = drag;
  drag = null;
  rubber.style.display = "none";
  const s = frameWidth / img.getBoundingClientRect().width;   // the JPEG may be an enlarged view
  const box = {x: Math.round(Math.min(p.x, start.x) * s), y: Math.round(Math.min(p.y, start.y) * s),
               w: Math.round(Math.abs(p.x - start.x) * s), h: Math.round(Math.abs(p.y - start.y) * s)};
  if (box.w < 2 || box.h < 2) {   // a click or a slip, not a box
    say("drag over the target to draw its box (press, move, release)");
    return;
  }
  try {
    const t = reselect === null ? await api("POST", "targets", box) : await api("PUT", "targets/" + reselect, box);
    say(`target ${t.id} ${reselect === null ? "started" : "re-selected"} at ${[box.x, box.y, box.w, box.h]}` +
        (t.warning ? `; warning: ${t.warning}` : ""));   // a box on one colour: nothing to follow
  } catch (e) {
    say(e.message);
  }
  reselect = null;
  $("hint").textContent = "Draw a box on the image to start a target.";
  refresh();
});

// ---- controls
$("pause").addEventListener("click", async () => {
  try {
    await api("POST", $("pause").textContent === "Pause" ? "pause" : "resume");
  } catch (e) { say(e.message); }
  refresh();
});

$("targets").addEventListener("click", async (ev) => {
  const btn = ev.target.closest("button");
  if (!btn) return;
  const id = Number(btn.closest("tr").dataset.id);
  if (btn.classList.contains("remove")) {
    try { await api("DELETE", "targets/" + id); say(`target ${id} removed`); } catch (e) { say(e.message); }
    refresh();
  } else {
    reselect = id;
    $("hint").textContent = `Draw the new box for target ${id}.`;
  }
});

// ---- stats
const fmt = (v, d = 2) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));

function render(s) {
  $("state").textContent = s.state + (s.error ? ` (${s.error})` : "");
  frameWidth = s.size ? s.size[0] : 0;
  $("frame-index").textContent = s.frame ?? "–";
  $("fps").textContent = fmt(s.fps, 1);
  $("source").textContent = `${s.source} · ${s.backend} on ${s.device} · ${s.procedure} · up to ${s.max_targets} ` +
    "targets";
  $("pause").textContent = s.state === "paused" ? "Resume" : "Pause";
  const key = JSON.stringify(s.targets);
  if (key !== lastTargets) {
    lastTargets = key;
    $("targets").tBodies[0].innerHTML = s.targets.map((t) => `<tr data-id="${t.id}"><td>${t.id}</td>` +
      `<td>${fmt(t.score, 3)}</td><td class="${t.lost ? "lost" : ""}">${t.lost ? "LOST" : "tracking"}` +
      `${t.reacq ? ' <span class="reacq" title="re-acquisition: searching wide (--reacq-factor)">· re-acquiring</span>' : ""}</td>` +
      `<td>${t.box.map((v) => v.toFixed(1)).join(", ")}</td><td><button class="reselect secondary">re-select</button> ` +
      `<button class="remove">remove</button></td></tr>`).join("");
  }
  $("latency").tBodies[0].innerHTML = Object.entries(s.stages).map(([k, v]) =>
    `<tr><td>${k}</td><td>${fmt(v.mean_ms)}</td><td>${fmt(v.p99_ms)}</td></tr>`).join("");
}

async function refresh() {
  if (!asking() || document.hidden) return;
  try {
    render(await api("GET", "stats"));
    if ($("message").textContent === GONE) say("");   // back
  } catch (e) {
    if (e.gone) $("state").textContent = "unreachable";
    say(e.message);
  }
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) return;
  if (askNext) { askNext(); askNext = null; }
  refresh();
});

connectVideo();
refresh();
setInterval(refresh, 300);
