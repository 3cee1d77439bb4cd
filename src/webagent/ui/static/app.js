// webagent UI: the live demo (Server-Sent Events) and client-side table filters.
// Every piece of text from the server goes into the page through textContent, never innerHTML:
// a page, an observation or a model reply can contain markup, and it must stay text.
"use strict";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function labelled(kind, label, text, step) {
  const box = el("div", "event " + kind);
  const head = el("span", "label", label);
  box.appendChild(head);
  if (step !== undefined) box.appendChild(el("span", "badge", "step " + step));
  box.appendChild(el("div", "text", text));
  return box;
}

// --- live --------------------------------------------------------------------------------------

function setupLive() {
  const form = document.getElementById("live-form");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const toggle = () => {
    const walker = $("agent").value === "walker";
    const openai = $("llm").value === "openai";
    const local = $("llm").value === "local";
    document.querySelectorAll(".walker-only").forEach((n) => { n.hidden = !walker; });
    document.querySelectorAll(".react-only").forEach((n) => { n.hidden = walker; });
    document.querySelectorAll(".openai-only").forEach((n) => { n.hidden = !openai; });
    document.querySelectorAll(".model-field").forEach((n) => { n.hidden = !(openai || local); });
    $("model").placeholder = local ? "checkpoints/nano (default) or a model directory" : "Alibaba-NLP/WebSailor-7B";
  };
  $("agent").addEventListener("change", toggle);
  $("llm").addEventListener("change", toggle);
  toggle();
  let source = null;

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (source) source.close();
    const data = Object.fromEntries(new FormData(form).entries());
    $("status").textContent = "starting…";
    $("run").disabled = true;
    let reply;
    try {
      const resp = await fetch("/api/live", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data),
      });
      reply = await resp.json();
      if (!resp.ok) throw new Error(reply.error || resp.statusText);
    } catch (err) {
      $("status").textContent = "error: " + err.message;
      $("run").disabled = false;
      return;
    }
    source = follow(reply, data.question);
  });

  function follow(reply, question) {
    const events = $("events");
    events.replaceChildren();
    $("live").hidden = false;
    $("final").hidden = true;
    $("live-question").textContent = question;
    $("status").textContent = "running…";
    const pending = [];  // tool calls waiting for their observation, in order
    const es = new EventSource(reply.events);
    const on = (kind, fn) => es.addEventListener(kind, (m) => fn(JSON.parse(m.data)));
    on("notice", (e) => events.appendChild(labelled("notice", "·", e.text)));
    on("think", (e) => events.appendChild(labelled("think", "think", e.text, e.step)));
    on("tool_call", (e) => {
      const d = el("details", "event call");
      const s = el("summary");
      const d0 = e.data || {};
      s.appendChild(el("span", "label", d0.name || "call"));
      // A well-formed call shows its arguments; a malformed one its raw text.
      s.appendChild(el("code", "", d0.arguments && !d0.error ? JSON.stringify(d0.arguments) : e.text));
      d.appendChild(s);
      d.appendChild(el("pre", "observation pending", "waiting for the tool…"));
      events.appendChild(d);
      pending.push(d);
    });
    on("observation", (e) => {
      const d = pending.shift();
      if (d) {
        const pre = d.querySelector("pre");
        pre.textContent = e.text;
        pre.classList.remove("pending");
      } else {
        const box = el("details", "event call");
        box.appendChild(el("summary", "label", "observation"));
        box.appendChild(el("pre", "observation", e.text));
        events.appendChild(box);
      }
    });
    on("answer", (e) => events.appendChild(labelled("step-answer", "answer", e.text, e.step)));
    on("done", (e) => {
      es.close();
      const d = e.data || {};
      $("final").hidden = false;
      $("final").classList.toggle("none", d.answer === null || d.answer === undefined);
      $("final-answer").textContent = d.answer === null || d.answer === undefined ? "(no answer)" : d.answer;
      $("final-meta").textContent = `termination: ${d.termination} · ${d.llm_calls} model calls · ` +
        `${d.tool_calls} tool calls · ${d.seconds} s · policy: ${d.policy}`;
      $("download").href = reply.trajectory;
      $("status").textContent = "done";
      $("run").disabled = false;
    });
    on("failed", (e) => {
      es.close();
      events.appendChild(labelled("error-box", "error", e.text));
      $("status").textContent = "failed";
      $("run").disabled = false;
    });
    es.onerror = () => {
      // The browser reconnects by itself (resuming after the last event id); say so meanwhile.
      if (es.readyState === EventSource.CONNECTING) $("status").textContent = "reconnecting…";
    };
    return es;
  }
}

// --- table filters -------------------------------------------------------------------------------

function setupFilters() {
  document.querySelectorAll(".filters[data-filter-for]").forEach((bar) => {
    const table = document.getElementById(bar.dataset.filterFor);
    if (!table) return;
    const rows = Array.from(table.tBodies[0].rows);
    const pick = (cls) => bar.querySelector(cls);
    const fields = [["correct", pick(".f-correct")], ["category", pick(".f-category")],
                    ["termination", pick(".f-termination")], ["differs", pick(".f-differs")]];
    const text = pick(".f-text");
    const count = pick(".f-count");
    const apply = () => {
      const needle = text ? text.value.trim().toLowerCase() : "";
      let shown = 0;
      rows.forEach((row) => {
        let ok = !needle || row.textContent.toLowerCase().includes(needle);
        fields.forEach(([key, input]) => {
          if (ok && input && input.value !== "") ok = row.dataset[key] === input.value;
        });
        row.hidden = !ok;
        shown += ok ? 1 : 0;
      });
      if (count) count.textContent = `${shown} of ${rows.length} shown`;
    };
    bar.querySelectorAll("input, select").forEach((n) => n.addEventListener("input", apply));
    apply();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupLive();
  setupFilters();
});
