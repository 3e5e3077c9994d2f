"""The status page and the submission page: server-rendered HTML.

No build step and no script library: each page is one HTML document whose
live part is a fragment the server renders too; a few lines of plain
JavaScript fetch the fragment again every second and swap it in (the
submission page stops once the result is stored). Charts are inline SVG:
one bar per test for CPU time and for peak memory, each against its limit.
Everything shown is escaped (a test's message, the compiler's output).
"""
from __future__ import annotations

import time
from html import escape

from ..queue import UnknownSubmission
from ..verdicts import NAMES

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:20px;margin:0 0 .5em} h2{font-size:16px;margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.3em 0} td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
th{background:#f4f4f4} .num{text-align:right;font-variant-numeric:tabular-nums}
.v-AC{color:#187a18;font-weight:600} .v-WA,.v-RTE{color:#c01818;font-weight:600}
.v-TLE,.v-MLE,.v-OLE{color:#b06000;font-weight:600} .v-CE{color:#1060a0;font-weight:600}
.v-JE,.v-failed,.v-dead{color:#800;font-weight:700} .v-pending{color:#777}
.tiles{display:flex;gap:1em} .tile{border:1px solid #ddd;border-radius:6px;padding:.5em 1em}
.tile b{display:block;font-size:22px} pre{background:#f6f6f6;padding:.6em;overflow:auto;max-height:20em}
svg text{font:11px system-ui,sans-serif} .bar{fill:#4a7fb5} .bar.fail{fill:#c05050}
.limit{stroke:#c01818;stroke-dasharray:4 3} a{color:#1060a0}
"""

_LIVE = """<script>
(function(){
  var box=document.getElementById('live');
  function tick(){
    if(box.querySelector('[data-final="1"]'))return;
    fetch(box.dataset.src,{credentials:'same-origin',cache:'no-store'})
      .then(function(r){return r.ok?r.text():null})
      .then(function(t){if(t!==null)box.innerHTML=t})
      .catch(function(){})
      .then(function(){setTimeout(tick,1000)});
  }
  setTimeout(tick,1000);
})();
</script>"""


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


def _verdict(row_state: str, verdict: str | None) -> str:
    shown = verdict if row_state == "done" and verdict else (
        row_state if row_state in ("failed", "dead") else "pending")
    label = row_state if shown == "pending" else shown
    title = NAMES.get(shown, shown)
    return f"<span class='verdict v-{escape(shown)}' title='{escape(title)}'>{escape(label)}</span>"


def _ago(when: float | None) -> str:
    if not when:
        return ""
    seconds = max(time.time() - when, 0)
    return f"{seconds:.0f} s ago" if seconds < 120 else time.strftime("%H:%M:%S", time.localtime(when))


# -- the status page ------------------------------------------------------------
def status_page(judge) -> str:
    body = (f"<h1>rustbox judge</h1><div id='live' data-src='/ui/status'>{status_fragment(judge)}</div>"
            f"<p><a href='/openapi.json'>API schema</a> &middot; <a href='/metrics'>metrics</a></p>{_LIVE}")
    return _page("rustbox judge: status", body)


def status_fragment(judge) -> str:
    tracker = judge.tracker
    snap = tracker.snapshot
    workers = tracker.workers()
    alive = sum(1 for w in workers if w["alive"])
    health = "" if snap.error is None else f"<p class='v-JE'>queue unavailable: {escape(snap.error)}</p>"
    tiles = (f"<div class='tiles'><div class='tile' id='queue-depth'><b>{len(snap.queued)}</b>queued</div>"
             f"<div class='tile'><b>{len(snap.running)}</b>grading</div>"
             f"<div class='tile' id='workers-alive'><b>{alive}</b>workers alive</div></div>")
    wrows = []
    for w in workers:
        grading = ", ".join(f"<a href='/ui/submissions/{escape(i)}'>{escape(i)}</a>" for i in w["grading"]) or "idle"
        state = "alive" if w["alive"] else f"exited ({w.get('exit_status')})"
        where = f"local, boxes {','.join(map(str, w['boxes']))}" if w.get("local") else "remote"
        wrows.append(f"<tr><td>{escape(w['id'])}</td><td>{where}</td><td>{state}</td><td>{grading}</td></tr>")
    worker_table = ("<h2>Workers</h2><table><tr><th>worker</th><th>where</th><th>state</th><th>grading</th></tr>"
                    + ("".join(wrows) or "<tr><td colspan='4'>none seen yet</td></tr>") + "</table>")
    rows = []
    for row in tracker.recent():
        score = "" if row.score is None else (f"{row.score:g}" + (f" / {row.max_score:g}" if row.max_score is not None else ""))
        seconds = "" if row.seconds is None else f"{row.seconds:.2f} s"
        position = ""
        if row.finished_at is None and row.state == "queued":
            position = snap.position(row.id)
            position = f"#{position}" if position else ""
        rows.append(
            f"<tr data-id='{escape(row.id)}'><td><a href='/ui/submissions/{escape(row.id)}'>{escape(row.id)}</a></td>"
            f"<td>{escape(row.problem or '')}</td><td>{escape(row.language or '')}</td>"
            f"<td class='state'>{escape(row.state)} {position}</td><td>{_verdict(row.state, row.verdict)}</td>"
            f"<td class='num'>{score}</td><td class='num'>{seconds}</td>"
            f"<td>{escape(row.worker or '')}</td><td>{_ago(row.finished_at or row.enqueued_at)}</td></tr>")
    subs = ("<h2>Latest submissions</h2><table id='submissions'><tr><th>id</th><th>problem</th><th>language</th>"
            "<th>state</th><th>verdict</th><th>score</th><th>grading</th><th>worker</th><th>when</th></tr>"
            + ("".join(rows) or "<tr><td colspan='9'>none yet</td></tr>") + "</table>")
    return health + tiles + worker_table + subs


# -- the submission page ----------------------------------------------------------
def submission_page(judge, submission_id: str) -> str:
    src = f"/ui/submissions/{escape(submission_id)}/live"
    body = (f"<p><a href='/'>&larr; status</a></p><h1>Submission {escape(submission_id)}</h1>"
            f"<div id='live' data-src='{src}'>{submission_fragment(judge, submission_id)}</div>{_LIVE}")
    return _page(f"submission {submission_id}", body)


def submission_fragment(judge, submission_id: str) -> str:
    try:
        record = judge.result(submission_id)
    except Exception as exc:  # noqa: BLE001 - ApiError 404, or the queue: shown, not raised
        status = getattr(exc, "message", str(exc))
        final = "1" if isinstance(exc, UnknownSubmission) or getattr(exc, "status", 0) == 404 else "0"
        return f"<p data-final='{final}' class='v-JE'>{escape(status)}</p>"
    callback = judge.outbox.status(submission_id)
    callback_line = ""
    if callback is not None:
        callback_line = (f"<p>callback to {escape(callback['url'])}: {escape(callback['state'])}"
                         f" after {callback['attempts']} attempt(s)"
                         + (f" (last error: {escape(callback['last_error'])})" if callback["last_error"] else "")
                         + "</p>")
    if record is None:
        state, position, worker = judge.tracker.position(submission_id)
        where = f"position {position} in the queue" if position else f"graded by {escape(worker or '?')}"
        return f"<div data-final='0'><p>{_verdict(state, None)} &middot; {where}</p>{callback_line}</div>"
    state = record.get("state") or "done"
    parts = [f"<div data-final='1'>"]
    summary = [_verdict(state, record.get("verdict"))]
    if record.get("verdict"):
        summary.append(escape(NAMES.get(record["verdict"], "")))
    if record.get("max_score") is not None:
        summary.append(f"score {record.get('score', 0):g} of {record['max_score']:g}")
    summary.append(f"problem {escape(str(record.get('problem')))}")
    summary.append(f"language {escape(str(record.get('language')))}")
    if record.get("worker"):
        summary.append(f"worker {escape(record['worker'])}")
    timings = record.get("timings") or {}
    if "grading" in timings:
        summary.append(f"graded in {timings['grading']:.2f} s (queued {timings.get('queued', 0):.2f} s)")
    parts.append("<p id='summary'>" + " &middot; ".join(summary) + "</p>" + callback_line)
    if record.get("error"):
        parts.append(f"<h2>Why it was not graded</h2><pre>{escape(record['error'])}</pre>")
    compile_info = record.get("compile") or {}
    if compile_info.get("message"):
        parts.append(f"<h2>Compiler output ({escape(str(compile_info.get('status')))})</h2>"
                     f"<pre id='compile-output'>{escape(compile_info['message'])}</pre>")
    tests = record.get("tests") or []
    if tests:
        time_limit = float(record.get("time_limit") or 1.0)
        memory_limit = _memory_limit(judge, record.get("problem"))
        parts.append("<h2>CPU time per test</h2>" + chart(
            "cpu-chart", tests, "cpu_time", time_limit, lambda v: f"{v:.3f} s", "s"))
        if memory_limit:
            parts.append("<h2>Peak memory per test</h2>" + chart(
                "memory-chart", tests, "memory_peak", memory_limit, lambda v: f"{v / (1 << 20):.1f} MiB", "MiB",
                scale=1 << 20))
        parts.append(_test_table(tests, record.get("max_score") is not None))
    parts.append("</div>")
    return "".join(parts)


def _memory_limit(judge, problem: str | None) -> int | None:
    if not problem:
        return None
    package = judge.catalog.package(problem)
    if package is None or package.problem is None:
        return None
    return package.problem.limits.memory << 20


def _test_table(tests: list, scoring: bool) -> str:
    head = "<tr><th>test</th><th>verdict</th><th>cpu</th><th>wall</th><th>memory</th>"
    head += "<th>score</th>" if scoring else ""
    head += "<th>message</th></tr>"
    rows = []
    for test in tests:
        score = ""
        if scoring:
            score = f"<td class='num'>{'' if test.get('score') is None else format(test['score'], 'g')}</td>"
        message = escape(str(test.get("message") or "")[:500])
        transcript = test.get("transcript")
        if transcript:
            message += f"<details><summary>transcript (tail)</summary><pre>{escape(str(transcript)[-4000:])}</pre></details>"
        rows.append(f"<tr><td>{escape(test['name'])}</td><td>{_verdict('done', test.get('verdict'))}</td>"
                    f"<td class='num'>{test.get('cpu_time', 0):.3f} s</td><td class='num'>{test.get('wall_time', 0):.3f} s</td>"
                    f"<td class='num'>{test.get('memory_peak', 0) / (1 << 20):.1f} MiB</td>{score}<td>{message}</td></tr>")
    return "<h2>Tests</h2><table id='tests'>" + head + "".join(rows) + "</table>"


def chart(chart_id: str, tests: list, key: str, limit: float, label, unit: str,
          scale: float = 1.0) -> str:
    """An SVG bar chart: one `rect.bar` per test, a dashed line at the limit."""
    width, height, left, bottom, top = 760, 200, 56, 24, 12
    plot_w, plot_h = width - left - 8, height - bottom - top
    values = [float(t.get(key) or 0) for t in tests]
    ceiling = max([limit, *values]) * 1.05 or 1.0
    step = plot_w / max(len(tests), 1)
    bar_w = max(step * 0.8, 1.0)
    out = [f"<svg id='{chart_id}' class='chart' width='{width}' height='{height}' "
           f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(chart_id)}'>"]
    out.append(f"<line x1='{left}' y1='{top + plot_h}' x2='{left + plot_w}' y2='{top + plot_h}' stroke='#888'/>")
    for i, (test, value) in enumerate(zip(tests, values)):
        h = plot_h * value / ceiling
        x = left + i * step + (step - bar_w) / 2
        cls = "bar" if test.get("verdict") == "AC" else "bar fail"
        out.append(f"<rect class='{cls}' data-test='{escape(test['name'])}' x='{x:.1f}' y='{top + plot_h - h:.1f}' "
                   f"width='{bar_w:.1f}' height='{max(h, 0.5):.1f}'><title>{escape(test['name'])}: "
                   f"{escape(label(value))} ({escape(str(test.get('verdict')))})</title></rect>")
    y = top + plot_h - plot_h * limit / ceiling
    out.append(f"<line class='limit' x1='{left}' y1='{y:.1f}' x2='{left + plot_w}' y2='{y:.1f}'/>")
    out.append(f"<text x='{left - 4}' y='{y + 4:.1f}' text-anchor='end'>{limit / scale:g} {unit}</text>")
    out.append(f"<text x='{left - 4}' y='{top + plot_h + 4}' text-anchor='end'>0</text>")
    out.append(f"<text x='{left + plot_w / 2:.0f}' y='{height - 6}' text-anchor='middle'>"
               f"{len(tests)} tests; dashed: the limit</text></svg>")
    return "".join(out)
