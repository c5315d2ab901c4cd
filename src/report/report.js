/* twin report: draws window.TWIN_REPORT (written by `twin report`) into report.html.
 *
 * The runtime inlines this file after dygraph.min.js and the data, so the page works offline
 * and nothing is ever fetched. Each section renders inside its own try/catch: a bad or missing
 * field shows a red box in that section and the rest of the report still draws. The page
 * records its own health in #report-status (data-errors, data-charts, data-points, data-state)
 * and every chart container carries data-chart-points, which tests/report/check_report.py
 * reads from the DOM that headless Chromium dumps.
 *
 * Conventions: the x axis of every time chart is facility time in seconds (`t_s`, the end of
 * each cycle), all charts share the same x range so they line up down the page, and cycles are
 * shown to the reader numbered from 1 (data index i is cycle i + 1), as the CLI prints them.
 */
(function () {
  'use strict';

  // ---------------------------------------------------------------- health bookkeeping

  const health = { errors: 0, charts: 0, points: 0 };
  const started = window.performance ? performance.now() : Date.now();
  let statusEl = null;
  let bannerEl = null;

  function updateStatus(state) {
    if (!statusEl) return;
    statusEl.setAttribute('data-errors', String(health.errors));
    statusEl.setAttribute('data-charts', String(health.charts));
    statusEl.setAttribute('data-points', String(health.points));
    if (state) statusEl.setAttribute('data-state', state);
    if (state === 'done')
      statusEl.setAttribute('data-render-ms', String(Math.round((window.performance ? performance.now() : Date.now()) - started)));
    statusEl.textContent = 'Report rendered ' + health.charts + ' charts with ' +
      health.points.toLocaleString('en-US') + ' data points; ' +
      (health.errors === 0 ? 'no rendering errors.' : health.errors + ' rendering error(s).');
    if (bannerEl) {
      bannerEl.hidden = health.errors === 0;
      bannerEl.textContent = health.errors === 0 ? '' : health.errors + ' problem(s) while drawing this report: ' +
        'see the red boxes below. The figures shown elsewhere are unaffected.';
    }
  }

  // `where` is the section to show the message in; errors outside any section go to the top.
  function reportError(message, where, stack) {
    health.errors += 1;
    const box = el('div', { class: 'report-error', role: 'alert' }, message);
    // In a section: under its heading, after any earlier errors there; otherwise at the top.
    const host = where || document.querySelector('main') || document.body;
    const earlier = where ? where.querySelectorAll(':scope > .report-error') : [];
    const after = earlier.length ? earlier[earlier.length - 1] : where ? where.firstElementChild : null;
    host.insertBefore(box, after ? after.nextSibling : host.firstChild);
    updateStatus();
    if (window.console) console.error('twin report: ' + message + (stack ? '\n' + stack : ''));
  }

  // Errors thrown later, e.g. from a chart callback while the user zooms, still count.
  window.addEventListener('error', function (ev) {
    reportError('Script error: ' + (ev.message || String(ev.error)), null);
  });
  window.addEventListener('unhandledrejection', function (ev) {
    reportError('Unhandled promise rejection: ' + String(ev.reason), null);
  });

  // ---------------------------------------------------------------- small helpers

  // Builds DOM from data without ever going through innerHTML: reasons, names and classes come
  // from the run and are shown as text.
  function el(tag, attrs) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'style') node.style.cssText = v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of Array.prototype.slice.call(arguments, 2).flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  // Dygraph inserts its legend text as HTML, so anything from the data going there is escaped.
  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (ch) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[ch];
    });
  }

  function num(v) {
    return typeof v === 'number' && isFinite(v) ? v : null;
  }

  function fmt(x, digits) {
    digits = digits || 4;
    if (x === null || x === undefined) return '—';
    if (typeof x === 'boolean') return x ? 'yes' : 'no';
    if (typeof x !== 'number') return String(x);
    if (!isFinite(x)) return String(x);
    if (Number.isInteger(x)) return x.toLocaleString('en-US');
    const a = Math.abs(x);
    if (a < 1e-3 || a >= 1e12) return x.toExponential(digits - 1);
    return Number(x.toPrecision(digits)).toLocaleString('en-US', { maximumFractionDigits: 12 });
  }

  function pct(count, total) {
    return total > 0 ? ' (' + fmt((100 * count) / total, 3) + ' %)' : '';
  }

  // The data contract is strict on purpose: a field the runtime forgot is a bug to be seen in
  // the report, not a chart that silently shows nothing.
  function field(obj, key, where, nullable) {
    if (obj === null || typeof obj !== 'object') throw new Error(where + ' is not an object');
    if (!(key in obj) || obj[key] === undefined) throw new Error('report data: missing field ' + where + '.' + key);
    if (obj[key] === null && !nullable) throw new Error('report data: ' + where + '.' + key + ' is null');
    return obj[key];
  }

  // Descriptive details of an item (a unit, a limit, a model name) may be absent as well as
  // null; the page then shows them as unknown.
  function optional(obj, key, where) {
    if (obj === null || typeof obj !== 'object') throw new Error(where + ' is not an object');
    return obj[key] === undefined ? null : obj[key];
  }

  function list(obj, key, where, nullable) {
    const v = field(obj, key, where, nullable);
    if (v !== null && !Array.isArray(v)) throw new Error('report data: ' + where + '.' + key + ' is not an array');
    return v;
  }

  function perCycle(obj, key, where, n) {
    const v = list(obj, key, where, false);
    if (v.length !== n)
      throw new Error('report data: ' + where + '.' + key + ' has ' + v.length + ' values, expected one a cycle (' + n + ')');
    return v;
  }

  // Runs of consecutive cycles with the same key (null keys are skipped): [first, last, key].
  function runsOf(n, keyAt) {
    const runs = [];
    let start = -1, key = null;
    for (let i = 0; i <= n; i++) {
      const k = i < n ? keyAt(i) : null;
      if (k !== key) {
        if (key !== null) runs.push([start, i - 1, key]);
        start = i;
        key = k;
      }
    }
    return runs;
  }

  function percentile(values, p) {
    const v = values.filter(function (x) { return x !== null; }).sort(function (a, b) { return a - b; });
    if (!v.length) return null;
    return v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))];
  }

  function table(headers, rows, cls) {
    const numeric = headers.map(function (h) { return h.charAt(0) === '#'; });
    return el('table', { class: 'data ' + (cls || '') },
      el('thead', null, el('tr', null, headers.map(function (h, j) {
        return el('th', { class: numeric[j] ? 'num' : null }, numeric[j] ? h.slice(1) : h);
      }))),
      el('tbody', null, rows.map(function (r) {
        return el('tr', null, r.map(function (c, j) {
          if (c instanceof Node) return el('td', { class: numeric[j] ? 'num' : null }, c);
          return el('td', { class: numeric[j] ? 'num' : null }, c === null || c === undefined ? '—' : c);
        }));
      })));
  }

  function key(items) {
    return el('div', { class: 'key' }, items.map(function (it) {
      const style = it.kind === 'line' || it.kind === 'dash' ? 'border-top-color:' + it.colour : 'background:' + it.colour;
      return el('span', null, el('i', { class: it.kind || null, style: style }), it.label);
    }));
  }

  // One chart per item (sensor, parameter, ...): a bad item shows its error and the others
  // still draw.
  function eachItem(sec, items, render) {
    const title = sec.querySelector('h2') ? sec.querySelector('h2').textContent : 'section';
    items.forEach(function (item, k) {
      try {
        render(item, k);
      } catch (e) {
        reportError(title + ': ' + (e && e.message ? e.message : String(e)), sec, e && e.stack);
      }
    });
  }

  // ---------------------------------------------------------------- chart plumbing

  const COLOUR = {
    observed: '#333333',
    rejected: '#d62728',
    forecast: '#e69f00',
    analysis: '#0072b2',
    estimate: '#0072b2',
    truth: '#1a7f37',
    control: '#0072b2',
    confidence: '#6a3d9a',
    flagged: '#d62728',
    faultStrong: 'rgba(214, 39, 40, 0.13)',
    faultLight: 'rgba(90, 90, 90, 0.06)',
    faultLabel: '#9b1c1c',
    drift: '#d62728',
    driftOther: 'rgba(214, 39, 40, 0.35)',
    lifecycle: '#1f4e79',
    limit: '#888888',
    deadline: '#b42318'
  };
  const MODE_COLOUR = {
    fallback: 'rgba(240, 160, 48, 0.32)',
    advisor_off: 'rgba(110, 125, 145, 0.28)',
    safe_hold: 'rgba(214, 39, 40, 0.30)'
  };
  const OTHER_MODE_COLOUR = 'rgba(148, 103, 189, 0.30)';
  const STAGE_COLOURS = ['#8da0cb', '#66c2a5', '#fc8d62', '#e78ac3', '#a6d854', '#e5c494', '#ffd92f', '#b3b3b3'];

  function modeColour(mode) {
    return MODE_COLOUR[mode] || OTHER_MODE_COLOUR;
  }

  // Facility time on the x axis is seconds since the twin's start; ticks fall on round
  // durations (5 min, 1 h, ...) and are labelled in the unit of their spacing.
  const TIME_STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
    43200, 86400, 172800, 604800];

  function timeTicker(a, b, pixels, opts) {
    const want = Math.max(2, Math.floor(pixels / (opts('pixelsPerLabel') || 70)));
    const span = b - a;
    let step = TIME_STEPS.find(function (st) { return span / st <= want; });
    if (!step) step = Math.ceil(span / want / 604800) * 604800;
    const ticks = [];
    for (let k = Math.ceil(a / step - 1e-9); k * step <= b + 1e-9 * step; k++) {
      const v = k * step + 0;  // + 0 turns the -0 of ceil(-tiny) into 0
      const label = step >= 3600 ? fmt(v / 3600) + ' h' : step >= 60 ? fmt(v / 60) + ' min' : fmt(v) + ' s';
      ticks.push({ v: v, label: label });
    }
    return ticks;
  }

  function clockText(s) {
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.round(s % 60);
    const two = function (x) { return (x < 10 ? '0' : '') + x; };
    return h > 0 ? h + ':' + two(m) + ':' + two(sec) : m + ':' + two(sec);
  }

  function dygraph() {
    if (typeof window.Dygraph !== 'function') throw new Error('the Dygraph library is missing from the page');
    return window.Dygraph;
  }

  function chartBox(parent, title, unit, wide) {
    const box = {
      div: el('div', { class: 'chart', 'data-chart': title }),
      legend: el('div', { class: 'chart-legend' }),
      caption: el('figcaption')
    };
    box.fig = el('figure', { class: 'chart-box' + (wide ? ' wide' : '') },
      el('div', { class: 'chart-title' }, title, unit ? el('span', { class: 'unit' }, ' [' + unit + ']') : null),
      box.div, box.legend, box.caption);
    parent.appendChild(box.fig);
    return box;
  }

  // A point is a value that will be drawn: a finite number, or a [low, mid, high] whose mid is.
  function countPoints(rows) {
    let n = 0;
    for (const row of rows)
      for (let j = 1; j < row.length; j++) {
        const v = row[j];
        if (Array.isArray(v) ? num(v[1]) !== null : num(v) !== null) n++;
      }
    return n;
  }

  function drawChart(ctx, box, rows, labels, options) {
    const Dygraph = dygraph();
    const points = countPoints(rows);
    box.div.setAttribute('data-chart-points', String(points));
    const base = {
      labels: labels,
      labelsDiv: box.legend,
      legend: 'always',
      labelsSeparateLines: false,
      dateWindow: ctx.xRange,
      gridLineColor: '#e6e6e6',
      axisLineColor: '#aaaaaa',
      axisLabelFontSize: 11,
      axisLabelWidth: 52,
      rightGap: 10,
      highlightCircleSize: 3,
      axes: {
        x: {
          pixelsPerLabel: 70,
          ticker: timeTicker,
          valueFormatter: function (t, opts, name, g, row) { return escapeHtml(ctx.xText(t, row)); }
        },
        y: { valueFormatter: function (v) { return escapeHtml(fmt(v)); } }
      }
    };
    const axes = options.axes || {};
    const merged = Object.assign({}, base, options);
    merged.axes = { x: Object.assign({}, base.axes.x, axes.x), y: Object.assign({}, base.axes.y, axes.y) };
    const g = new Dygraph(box.div, rows, merged);
    health.charts += 1;
    health.points += points;
    updateStatus();
    return g;
  }

  // The ±2σ band of a customBars series as one polygon per gap-free run. Dygraph's own error
  // plotter fills one quadrilateral per point for every series, which costs about a second a
  // chart at a day of 10 s cycles; this is ~40x faster and lets the point-only series skip
  // band drawing altogether (their plotter is the plain line plotter).
  function bandPlotter(e) {
    const c = e.drawingContext, area = e.plotArea;
    const y = function (frac, p) { return isNaN(frac) ? p.canvasy : area.y + area.h * frac; };
    c.save();
    c.globalAlpha = e.dygraph.getNumericOption('fillAlpha', e.setName);
    c.fillStyle = e.color;
    c.beginPath();
    let run = [];
    const flush = function () {
      if (run.length > 1) {
        c.moveTo(run[0].canvasx, y(run[0].y_top, run[0]));
        for (const p of run) c.lineTo(p.canvasx, y(p.y_top, p));
        for (let i = run.length - 1; i >= 0; i--) c.lineTo(run[i].canvasx, y(run[i].y_bottom, run[i]));
        c.closePath();
      }
      run = [];
    };
    for (const p of e.points) {
      if (p.yval === null || isNaN(p.canvasy)) flush();
      else run.push(p);
    }
    flush();
    c.fill();
    c.restore();
  }

  function bandAndLine(e) {
    bandPlotter(e);
    dygraph().Plotters.linePlotter(e);
  }

  // Underlay drawing: shading and reference lines behind the series, in data coordinates.
  function shade(c, area, g, x0, x1, colour) {
    const left = Math.max(area.x, g.toDomXCoord(x0));
    const right = Math.min(area.x + area.w, g.toDomXCoord(x1));
    if (!(right > left)) return null;
    c.fillStyle = colour;
    c.fillRect(left, area.y, right - left, area.h);
    return left;
  }

  function strokeLine(c, colour, dash, x0, y0, x1, y1) {
    c.save();
    c.strokeStyle = colour;
    c.lineWidth = 1.5;
    c.setLineDash(dash || []);
    c.beginPath();
    c.moveTo(x0, y0);
    c.lineTo(x1, y1);
    c.stroke();
    c.restore();
  }

  function vline(c, area, g, x, colour, dash, label, slot) {
    const px = g.toDomXCoord(x);
    if (px < area.x - 0.5 || px > area.x + area.w + 0.5) return;
    strokeLine(c, colour, dash, px, area.y, px, area.y + area.h);
    if (label) {
      // Near the right edge the label goes to the left of its line rather than off the chart.
      c.save();
      c.font = LABEL_FONT;
      const w = c.measureText(label).width;
      c.restore();
      const x = px + 3 + w > area.x + area.w ? px - 3 - w : px + 3;
      text(c, area, x, area.y + 11 + 12 * (slot || 0), label, colour);
    }
  }

  function hline(c, area, g, y, colour, dash, label) {
    const py = g.toDomYCoord(y);
    if (py < area.y - 0.5 || py > area.y + area.h + 0.5) return;
    strokeLine(c, colour, dash, area.x, py, area.x + area.w, py);
    if (label) text(c, area, area.x + 4, py - 3, label, colour);
  }

  const LABEL_FONT = '11px system-ui, "DejaVu Sans", sans-serif';

  // `boxed` sets the label on a pale patch so that it stays legible over shading and grid lines
  // (the series are drawn later, on top, which is why such labels sit at the top of the chart).
  function text(c, area, x, y, s, colour, boxed) {
    c.save();
    c.font = LABEL_FONT;
    c.beginPath();
    c.rect(area.x, area.y, area.w, area.h);
    c.clip();
    if (boxed) {
      c.fillStyle = 'rgba(255, 255, 255, 0.85)';
      c.fillRect(x - 2, y - 10, c.measureText(s).width + 4, 13);
    }
    c.fillStyle = colour;
    c.fillText(s, x, y);
    c.restore();
  }

  // Scheduled faults as shaded windows; `strong(f)` picks the ones the chart is about, which
  // are darker and labelled, while the others stay as faint context.
  function shadeFaults(c, area, g, ctx, strong) {
    ctx.faults.forEach(function (f, k) {
      const s = strong(f);
      const left = shade(c, area, g, f.start, f.end, s ? COLOUR.faultStrong : COLOUR.faultLight);
      if (s && left !== null) text(c, area, left + 3, area.y + 12 + 13 * (k % 2), f.label, COLOUR.faultLabel, true);
    });
  }

  // ---------------------------------------------------------------- context

  function buildContext(D) {
    const n = field(D, 'cycles', 'report');
    if (!Number.isInteger(n) || n < 0) throw new Error('report data: cycles is not a count: ' + n);
    const t = perCycle(D, 't_s', 'report', n).map(num);
    const period = num(field(D, 'control_period_s', 'report'));
    if (period === null || period <= 0) throw new Error('report data: control_period_s is not a positive number');
    const ctx = {
      n: n,
      t: t,
      period: period,
      tStart: n ? t[0] - period : 0,
      tEnd: n ? t[n - 1] : 0
    };
    ctx.xRange = [ctx.tStart, ctx.tEnd > ctx.tStart ? ctx.tEnd : ctx.tStart + period];
    ctx.xText = function (x, row) {
      const i = Number.isInteger(row) ? row : ctx.cycleAt(x);
      return 't = ' + fmt(x) + ' s' + (x >= 60 ? ' (' + clockText(x) + ')' : '') + (i !== null && i >= 0 && i < n ? ' · cycle ' + (i + 1) : '');
    };
    // The cycle (0-based) a facility time falls in: the first whose end is at or after it.
    ctx.cycleAt = function (x) {
      for (let i = 0; i < n; i++) if (t[i] !== null && t[i] >= x) return i;
      return null;
    };
    ctx.timeText = function (x) {
      if (x === null || x === undefined) return '—';
      const i = ctx.cycleAt(x);
      return fmt(x) + ' s' + (i !== null ? ' (cycle ' + (i + 1) + ')' : '');
    };
    ctx.faults = list(D, 'faults', 'report').map(function (f, k) {
      const where = 'faults[' + k + ']';
      const start = num(field(f, 'start_s', where));
      const endRaw = optional(f, 'end_s', where);
      const type = field(f, 'type', where);
      const target = field(f, 'target', where);
      return {
        raw: f,
        type: type,
        target: target,
        start: start === null ? ctx.tStart : start,
        end: num(endRaw) === null ? ctx.tEnd + period : num(endRaw),
        label: type + ' · ' + target
      };
    });
    return ctx;
  }

  // ---------------------------------------------------------------- header

  function renderHeader(D, header) {
    const name = field(D, 'twin', 'report');
    const n = field(D, 'cycles', 'report');
    const period = field(D, 'control_period_s', 'report');
    const t = field(D, 't_s', 'report');
    const span = n > 0 ? num(t[n - 1]) - (num(t[0]) - period) : 0;
    const facts = [
      ['Run directory', field(D, 'run_dir', 'report')],
      ['Cycles', fmt(n)],
      ['Control period', fmt(period) + ' s'],
      ['Facility time', n > 0 ? fmt(num(t[0]) - period) + ' – ' + fmt(num(t[n - 1])) + ' s (' + durationText(span) + ')' : '—'],
      ['Cycle deadline', field(D, 'deadline_ms', 'report', true) === null ? 'none' : fmt(D.deadline_ms) + ' ms'],
      ['Generated', field(D, 'generated', 'report')],
      ['twinrt', field(D, 'twinrt_version', 'report')]
    ];
    // Extras the runtime may add: a run killed before its summary, audit lines it could not read.
    if (typeof D.summary_problem === 'string' && D.summary_problem)
      facts.push(['summary.json', 'unreadable, left out: ' + D.summary_problem]);
    else if (D.finished === false) facts.push(['Run', 'did not finish (no summary.json)']);
    if (typeof D.audit_lines_skipped === 'number' && D.audit_lines_skipped > 0)
      facts.push(['audit.jsonl', fmt(D.audit_lines_skipped) + ' unreadable line(s) skipped']);
    header.querySelector('h1').appendChild(el('span', { class: 'twin-name' }, name));
    const dl = header.querySelector('dl.run-facts');
    for (const [k, v] of facts) dl.appendChild(el('div', null, el('dt', null, k), el('dd', null, v)));
  }

  function durationText(s) {
    if (!(s > 0)) return '0 s';
    if (s < 120) return fmt(s) + ' s';
    if (s < 7200) return fmt(s / 60, 3) + ' min';
    if (s < 2 * 86400) return fmt(s / 3600, 3) + ' h';
    return fmt(s / 86400, 3) + ' days';
  }

  // ---------------------------------------------------------------- 1. key figures

  const HEADLINE = [
    ['cycles', 'Cycles completed', ''],
    ['facility_time_s', 'Facility time covered', 's'],
    ['realtime_factor', 'Real-time factor (facility time / twin wall time)', '×'],
    ['deadline_misses', 'Deadline misses (cycles)', ''],
    ['cycle_ms.p50', 'Cycle time, median', 'ms'],
    ['cycle_ms.p99', 'Cycle time, 99th percentile', 'ms'],
    ['rmse_ratio', 'RMSE ratio, analysis / free run (below 1: assimilation helps)', ''],
    ['rmse_analysis', 'RMSE of the analysis against the truth', ''],
    ['rmse_free_run', 'RMSE of the free run against the truth', ''],
    ['anomaly.all_faults_flagged_within_5_cycles', 'All plant faults named within 5 cycles', ''],
    ['qc.all_faults_rejected_within_3_cycles', 'All sensor faults rejected within 3 cycles', ''],
    ['qc.healthy_rejected_fraction', 'Healthy readings rejected by QC (fraction)', ''],
    ['confidence.parameters.coverage_2sigma', 'Parameters: truth inside ±2σ (share of cycles; 0.95 if calibrated)', ''],
    ['confidence.parameters.spread_skill_ratio', 'Parameters: spread / error (1 if calibrated)', ''],
    ['confidence.sensors.coverage_2sigma', 'State at the sensors: truth inside ±2σ', ''],
    ['confidence.sensors.spread_skill_ratio', 'State at the sensors: spread / error', ''],
    ['confidence.innovations.mean_squared_normalised', 'Readings: squared innovation / predicted variance, mean (1 if calibrated)', ''],
    ['confidence.innovations.coverage_2sigma', 'Readings inside ±2 predicted sd (0.95 if calibrated)', ''],
    ['insight.time_to_insight_s.mean', 'Time to insight: a fault\'s onset to the advice naming it, mean', 's'],
    ['insight.time_to_insight_s.max', 'Time to insight, worst fault', 's'],
    ['insight.not_named', 'Faults the run did not name', ''],
    ['insight.energy_to_insight_j.mean', 'Energy to insight per fault, mean', 'J'],
    ['reading_to_advice_ms.p50', 'Reading to advice, median', 'ms'],
    ['reading_to_advice_ms.p99', 'Reading to advice, 99th percentile', 'ms'],
    ['resources.cpu_core_s', 'CPU core-seconds, whole run, all ranks', 's'],
    ['resources.cpu_core_s_per_cycle', 'CPU core-seconds per cycle', 's'],
    ['resources.energy_j', 'Energy of the run', 'J'],
    ['resources.energy_j_per_cycle', 'Energy per cycle', 'J'],
    ['resources.energy_note', 'Energy: how it was obtained', '']
  ];
  // Whole subtrees shown among the headline figures when the run has them.
  const HEADLINE_TREES = ['control'];

  function lookup(obj, path) {
    let v = obj;
    for (const part of path.split('.')) {
      if (v === null || typeof v !== 'object' || !(part in v)) return undefined;
      v = v[part];
    }
    return v;
  }

  function flatten(value, prefix, out) {
    if (value !== null && typeof value === 'object') {
      const entries = Array.isArray(value) ? value.map(function (v, i) { return [i, v]; }) : Object.entries(value);
      // Short lists of plain values read better on one line than as one row each.
      if (Array.isArray(value) && value.every(function (v) { return v === null || typeof v !== 'object'; }) && value.length <= 12) {
        out.push([prefix, JSON.stringify(value)]);
        return out;
      }
      if (!entries.length) out.push([prefix, Array.isArray(value) ? '[]' : '{}']);
      for (const [k, v] of entries) {
        const p = Array.isArray(value) ? prefix + '[' + k + ']' : (prefix ? prefix + '.' + k : String(k));
        flatten(v, p, out);
      }
      return out;
    }
    out.push([prefix, value]);
    return out;
  }

  function unitFromKey(path) {
    if (/_ms(\.|$)/.test(path)) return 'ms';
    if (/_j$/.test(path)) return 'J';
    if (/_kwh$/.test(path)) return 'kWh';
    if (/_w$/.test(path)) return 'W';
    if (/_s$/.test(path)) return 's';
    if (/_percent$|_pct$/.test(path)) return '%';
    return '';
  }

  function valueCell(v, unit) {
    if (typeof v === 'boolean')
      return el('span', { class: v ? 'yes' : 'no' }, v ? '✓ yes' : '✗ no');
    let s = fmt(v) + (unit && typeof v === 'number' ? ' ' + unit : '');
    if (unit === 'J' && typeof v === 'number' && Math.abs(v) >= 3.6e4) s += ' (' + fmt(v / 3.6e6, 3) + ' kWh)';
    return s;
  }

  function renderKpis(D, sec) {
    const S = field(D, 'summary', 'report');
    if (typeof S !== 'object' || Array.isArray(S)) throw new Error('report data: summary is not an object');
    const rows = [];
    for (const [path, label, unit] of HEADLINE) {
      const v = lookup(S, path);
      if (v === undefined) continue;
      let cell = valueCell(v, unit);
      // The runtime reports `false` for "all faults caught" when none were scheduled; say n/a.
      if (path === 'anomaly.all_faults_flagged_within_5_cycles' && Array.isArray(lookup(S, 'anomaly.events')) && !S.anomaly.events.length)
        cell = 'n/a (no plant faults scheduled)';
      if (path === 'qc.all_faults_rejected_within_3_cycles' && Array.isArray(lookup(S, 'qc.faults')) && !S.qc.faults.length)
        cell = 'n/a (no sensor faults)';
      rows.push([label, cell, path]);
    }
    for (const tree of HEADLINE_TREES) {
      const sub = lookup(S, tree);
      if (sub === undefined) continue;
      for (const [path, v] of flatten(sub, tree, [])) {
        // The unit shows with the value, so "energy_j" reads "energy".
        const words = path.split('.').slice(1).join(' · ').replace(/_(j|s|ms|w|kwh|percent|pct)$/, '').replace(/_/g, ' ');
        rows.push([tree + (words ? ': ' + words : ''), valueCell(v, unitFromKey(path)), path]);
      }
    }
    if (rows.length) {
      const t = el('table', { class: 'data kpis' },
        el('thead', null, el('tr', null, el('th', null, 'Figure'), el('th', { class: 'num' }, 'Value'), el('th', null, 'Key in summary.json'))),
        el('tbody', null, rows.map(function (r) {
          return el('tr', null, el('td', null, r[0]), el('td', { class: 'value' }, r[1]), el('td', { class: 'path' }, r[2]));
        })));
      sec.appendChild(t);
    } else if (!Object.keys(S).length) {
      sec.appendChild(el('p', { class: 'empty' }, 'No summary.json in the run directory (the run did not finish): ' +
        'no key figures. The charts below show the cycles it recorded.'));
      return;
    } else {
      sec.appendChild(el('p', { class: 'empty' }, 'summary.json has none of the headline figures.'));
    }
    const all = flatten(S, '', []);
    sec.appendChild(el('details', { class: 'summary-all' },
      el('summary', null, 'The whole summary.json (' + all.length + ' values)'),
      el('table', { class: 'data' },
        el('tbody', null, all.map(function (r) {
          return el('tr', null, el('td', { class: 'path' }, r[0] || '(root)'),
            el('td', { class: 'value' }, typeof r[1] === 'string' ? r[1] : JSON.stringify(r[1])));
        })))));
  }

  // ---------------------------------------------------------------- 2. sensors

  function renderSensors(D, sec, ctx) {
    const sensors = list(D, 'sensors', 'report');
    // With more cycles than pixels the readings become a smear that hides the lines; then they
    // are drawn smaller and lighter (and, always, beneath the lines).
    const dense = ctx.n > 600;
    const readingColour = dense ? '#a0a0a0' : COLOUR.observed;
    sec.appendChild(el('p', { class: 'intro' },
      'Each sensor over the run: the readings, the twin\'s forecast before assimilating them and its analysis after, ' +
      'with a band of ±2 standard deviations of its stated uncertainty (the members\' spread, with the error the ' +
      'twin\'s grid makes at the sensor where the grid check measured it). Readings QC rejected are drawn in red; ' +
      'shaded windows are ' +
      'scheduled faults (darker and labelled: a fault on this sensor). Drag to zoom, double-click to reset.'));
    sec.appendChild(key([
      { kind: 'dot', colour: readingColour, label: 'reading (accepted)' },
      { kind: 'dot', colour: COLOUR.rejected, label: 'reading rejected by QC' },
      { kind: 'dash', colour: COLOUR.forecast, label: 'forecast' },
      { colour: 'rgba(0, 114, 178, 0.25)', label: 'analysis ±2σ' },
      { colour: COLOUR.faultStrong, label: 'fault on this sensor' },
      { colour: COLOUR.faultLight, label: 'other scheduled fault' }
    ]));
    if (!sensors.length) {
      sec.appendChild(el('p', { class: 'empty' }, 'The twin has no sensors.'));
      return;
    }
    const grid = el('div', { class: 'chart-grid' });
    sec.appendChild(grid);
    eachItem(sec, sensors, function (s, k) {
      const where = 'sensors[' + k + ']';
      const name = field(s, 'name', where);
      const named = 'sensors["' + name + '"]';
      const unit = optional(s, 'unit', named);
      const obs = perCycle(s, 'observed', named, ctx.n);
      const fc = perCycle(s, 'forecast', named, ctx.n);
      const an = perCycle(s, 'analysis', named, ctx.n);
      const sp = perCycle(s, 'spread', named, ctx.n);
      const gridError = num(optional(s, 'grid_error', named));
      const qc = perCycle(s, 'qc', named, ctx.n);
      const verdicts = {};
      const rows = ctx.t.map(function (t, i) {
        const o = num(obs[i]), f = num(fc[i]), a = num(an[i]);
        const d = num(sp[i]) === null ? null : (gridError === null ? sp[i] : Math.hypot(sp[i], gridError));
        const accepted = qc[i] === 'accepted';
        verdicts[qc[i]] = (verdicts[qc[i]] || 0) + 1;
        return [t,
          accepted && o !== null ? [o, o, o] : null,
          f === null ? null : [f, f, f],
          a === null ? null : (d === null ? [a, a, a] : [a - 2 * d, a, a + 2 * d]),
          !accepted && o !== null ? [o, o, o] : null];
      });
      const box = chartBox(grid, name, unit);
      const rejected = Object.entries(verdicts).filter(function (e) { return e[0] !== 'accepted' && e[0] !== 'missing'; });
      const nRejected = rejected.reduce(function (s, e) { return s + e[1]; }, 0);
      box.caption.textContent = 'QC: ' + fmt(verdicts.accepted || 0) + ' accepted' +
        (nRejected ? '; ' + fmt(nRejected) + ' rejected' + pct(nRejected, ctx.n) + ' (' +
          rejected.map(function (e) { return e[0] + ' ' + e[1]; }).join(', ') + ')' : '; none rejected') +
        (verdicts.missing ? '; ' + fmt(verdicts.missing) + ' missing' : '') + '.' +
        (gridError === null ? ' Band: the members\' spread alone (no grid check in summary.json).'
          : ' Band: the members\' spread with the grid\'s error at this sensor, ' + fmt(gridError, 2) +
            (unit ? ' ' + unit : '') + ' (1σ).');
      if (countPoints(rows) === 0) {
        box.div.replaceWith(el('p', { class: 'empty' }, 'No values for this sensor in this run.'));
        return;
      }
      drawChart(ctx, box, rows, ['t', 'reading', 'forecast', 'analysis ±2σ', 'rejected'], {
        customBars: true,
        fillAlpha: 0.2,
        plotter: dygraph().Plotters.linePlotter,
        series: {
          'forecast': { color: COLOUR.forecast, strokeWidth: 1.2, strokePattern: [5, 3] },
          'analysis ±2σ': { color: COLOUR.analysis, strokeWidth: 1.6, plotter: bandAndLine },
          'reading': { color: readingColour, strokeWidth: 0, drawPoints: true, pointSize: dense ? 1 : 1.8 },
          'rejected': { color: COLOUR.rejected, strokeWidth: 0, drawPoints: true, pointSize: 3.2 }
        },
        underlayCallback: function (c, area, g) {
          shadeFaults(c, area, g, ctx, function (f) { return f.target === name; });
        }
      });
    });
  }

  // ---------------------------------------------------------------- 3. parameters

  function renderParameters(D, sec, ctx) {
    const params = list(D, 'parameters', 'report');
    sec.appendChild(el('p', { class: 'intro' },
      'The ensemble\'s estimate of each uncertain parameter: mean with a ±2σ band; the dashed line is the true ' +
      'value where the run knows it (a simulated plant).'));
    if (!params.length) {
      sec.appendChild(el('p', { class: 'empty' }, 'This run estimates no parameters.'));
      return;
    }
    const grid = el('div', { class: 'chart-grid' });
    sec.appendChild(grid);
    eachItem(sec, params, function (p, k) {
      const name = field(p, 'name', 'parameters[' + k + ']');
      const named = 'parameters["' + name + '"]';
      const mean = perCycle(p, 'mean', named, ctx.n);
      const std = perCycle(p, 'std', named, ctx.n);
      const truth = num(optional(p, 'truth', named));
      const rows = ctx.t.map(function (t, i) {
        const m = num(mean[i]), s = num(std[i]);
        const row = [t, m === null ? null : (s === null ? [m, m, m] : [m - 2 * s, m, m + 2 * s])];
        if (truth !== null) row.push([truth, truth, truth]);
        return row;
      });
      const box = chartBox(grid, name, null);
      let last = null;
      for (let i = ctx.n - 1; i >= 0 && last === null; i--) if (num(mean[i]) !== null) last = i;
      box.caption.textContent = last === null ? 'No estimate in this run.' :
        'Final estimate ' + fmt(num(mean[last])) + ' ± ' + fmt(num(std[last])) + ' (1σ)' +
        (truth !== null ? '; truth ' + fmt(truth) + ', error ' + fmt(Math.abs(num(mean[last]) - truth) / Math.abs(truth) * 100, 3) + ' %' : '') + '.';
      if (countPoints(rows) === 0) {
        box.div.replaceWith(el('p', { class: 'empty' }, 'No values for this parameter in this run.'));
        return;
      }
      const labels = ['t', 'estimate ±2σ'].concat(truth !== null ? ['truth'] : []);
      drawChart(ctx, box, rows, labels, {
        customBars: true,
        fillAlpha: 0.2,
        plotter: dygraph().Plotters.linePlotter,
        series: {
          'estimate ±2σ': { color: COLOUR.estimate, strokeWidth: 1.6, plotter: bandAndLine },
          'truth': { color: COLOUR.truth, strokeWidth: 1.5, strokePattern: [6, 4] }
        }
      });
    });
  }

  // ---------------------------------------------------------------- 4. controls and modes

  // Reasons often carry the numbers of the cycle ("gate ood: 7.1 > 6"); grouping on the text
  // with the numbers masked keeps one row per cause instead of one per cycle.
  function reasonPattern(r) {
    return r.replace(/[-+]?\d+(\.\d+)?([eE][-+]?\d+)?/g, '#');
  }

  function renderControls(D, sec, ctx) {
    const controls = list(D, 'controls', 'report');
    const mode = perCycle(D, 'mode', 'report', ctx.n);
    const reason = perCycle(D, 'reason', 'report', ctx.n);
    const modeCount = {};
    mode.forEach(function (m) { modeCount[m] = (modeCount[m] || 0) + 1; });
    const offModes = Object.keys(modeCount).filter(function (m) { return m !== 'nominal'; }).sort();
    sec.appendChild(el('p', { class: 'intro' },
      'The advice the twin emitted, as held until the next cycle. Shading marks the periods whose advice came from a ' +
      'cycle that was not in nominal mode (the safe default or a held state instead of the advisor\'s proposal); ' +
      'dashed lines are the control\'s limits.'));
    sec.appendChild(el('p', { class: 'note' }, 'Modes: ' + Object.keys(modeCount).sort().map(function (m) {
      return m + ' ' + fmt(modeCount[m]) + pct(modeCount[m], ctx.n);
    }).join(', ') + '.'));
    if (offModes.length)
      sec.appendChild(key(offModes.map(function (m) { return { colour: modeColour(m), label: m }; })
        .concat([{ kind: 'dash', colour: COLOUR.limit, label: 'control limits' }])));
    const modeRuns = runsOf(ctx.n, function (i) { return mode[i] === 'nominal' ? null : mode[i]; });

    if (!controls.length) sec.appendChild(el('p', { class: 'empty' }, 'The twin has no controls.'));
    const grid = el('div', { class: 'chart-grid' });
    sec.appendChild(grid);
    eachItem(sec, controls, function (cdef, k) {
      const name = field(cdef, 'name', 'controls[' + k + ']');
      const named = 'controls["' + name + '"]';
      const unit = optional(cdef, 'unit', named);
      const values = perCycle(cdef, 'value', named, ctx.n).map(num);
      const lo = num(optional(cdef, 'min', named));
      const hi = num(optional(cdef, 'max', named));
      const rows = ctx.t.map(function (t, i) { return [t, values[i]]; });
      const box = chartBox(grid, name, unit);
      const finite = values.filter(function (v) { return v !== null; });
      box.caption.textContent = finite.length
        ? 'Range of advice ' + fmt(Math.min.apply(null, finite)) + ' – ' + fmt(Math.max.apply(null, finite)) +
          (lo !== null || hi !== null ? '; limits ' + fmt(lo) + ' – ' + fmt(hi) : '') + '.'
        : 'No advice in this run.';
      if (!finite.length) {
        box.div.replaceWith(el('p', { class: 'empty' }, 'No values for this control in this run.'));
        return;
      }
      // Keep the limits in view so the reader sees how close the advice came to them.
      const yLo = Math.min.apply(null, finite.concat(lo === null ? [] : [lo]));
      const yHi = Math.max.apply(null, finite.concat(hi === null ? [] : [hi]));
      const pad = (yHi - yLo) * 0.06 || Math.abs(yHi) * 0.1 || 1;
      drawChart(ctx, box, rows, ['t', name], {
        stepPlot: true,
        valueRange: [yLo - pad, yHi + pad],
        colors: [COLOUR.control],
        strokeWidth: 1.6,
        underlayCallback: function (c, area, g) {
          for (const [a, b, m] of modeRuns) shade(c, area, g, ctx.t[a], ctx.t[b] + ctx.period, modeColour(m));
          if (lo !== null) hline(c, area, g, lo, COLOUR.limit, [5, 4], 'min ' + fmt(lo));
          if (hi !== null) hline(c, area, g, hi, COLOUR.limit, [5, 4], 'max ' + fmt(hi));
        }
      });
    });

    sec.appendChild(el('h3', null, 'Why cycles were not nominal'));
    const groups = new Map();
    mode.forEach(function (m, i) {
      if (m === 'nominal') return;
      const r = typeof reason[i] === 'string' ? reason[i] : '';
      const k = m + '\u0000' + reasonPattern(r);
      if (!groups.has(k)) groups.set(k, { mode: m, first: i, last: i, count: 0, reasons: new Set(), example: r });
      const gr = groups.get(k);
      gr.count += 1;
      gr.last = i;
      if (gr.reasons.size < 2) gr.reasons.add(r);
    });
    if (!groups.size) {
      sec.appendChild(el('p', { class: 'empty' }, 'Every cycle was nominal.'));
      return;
    }
    const sorted = Array.from(groups.values()).sort(function (a, b) { return b.count - a.count || a.first - b.first; });
    const LIMIT = 60;
    sec.appendChild(table(['Reason', 'Mode', '#Cycles', '#First cycle', '#Last cycle'],
      sorted.slice(0, LIMIT).map(function (gr) {
        const text = gr.reasons.size > 1 ? reasonPattern(gr.example) + '   (e.g. ' + gr.example + ')' : (gr.example || '(no reason given)');
        return [el('span', { class: 'reason' }, text), gr.mode, fmt(gr.count), fmt(gr.first + 1), fmt(gr.last + 1)];
      })));
    if (sorted.length > LIMIT)
      sec.appendChild(el('p', { class: 'note' }, (sorted.length - LIMIT) + ' rarer reasons not listed.'));
    sec.appendChild(el('p', { class: 'note' }, '# stands for the numbers that vary from cycle to cycle within one reason.'));
  }

  // ---------------------------------------------------------------- 5. anomalies vs faults

  function renderAnomalies(D, sec, ctx) {
    const anomaly = field(D, 'anomaly', 'report', true);
    sec.appendChild(el('p', { class: 'intro' },
      'The anomaly model\'s confidence each cycle, the cycles it flagged, and the scheduled faults (shaded) it ' +
      'was expected to name.'));
    if (anomaly === null) {
      sec.appendChild(el('p', { class: 'empty' }, 'This run has no anomaly model: nothing was flagged or diagnosed.'));
    } else {
      const flagged = perCycle(anomaly, 'flagged', 'anomaly', ctx.n);
      const cls = perCycle(anomaly, 'class', 'anomaly', ctx.n);
      const conf = perCycle(anomaly, 'confidence', 'anomaly', ctx.n).map(num);
      const rows = ctx.t.map(function (t, i) {
        return [t, conf[i], flagged[i] === true ? (conf[i] === null ? 1 : conf[i]) : null];
      });
      sec.appendChild(key([
        { kind: 'line', colour: COLOUR.confidence, label: 'confidence' },
        { kind: 'dot', colour: COLOUR.flagged, label: 'flagged cycle' },
        { colour: COLOUR.faultStrong, label: 'scheduled fault' }
      ]));
      const box = chartBox(sec, 'Anomaly confidence', null, true);
      const nFlagged = flagged.filter(function (f) { return f === true; }).length;
      box.caption.textContent = fmt(nFlagged) + ' of ' + fmt(ctx.n) + ' cycles flagged' + pct(nFlagged, ctx.n) + '.';
      if (countPoints(rows) === 0) {
        box.div.replaceWith(el('p', { class: 'empty' }, 'The anomaly model gave no confidence values in this run.'));
      } else {
        const finite = conf.filter(function (v) { return v !== null; });
        const unitRange = finite.every(function (v) { return v >= 0 && v <= 1; });
        drawChart(ctx, box, rows, ['t', 'confidence', 'flagged'], {
          valueRange: unitRange ? [0, 1.05] : null,
          series: {
            'confidence': { color: COLOUR.confidence, strokeWidth: 1.4 },
            'flagged': { color: COLOUR.flagged, strokeWidth: 0, drawPoints: true, pointSize: 3.2 }
          },
          axes: {
            x: {
              valueFormatter: function (t, o, s, g, row) {
                const i = Number.isInteger(row) ? row : ctx.cycleAt(t);
                const c = i !== null && cls[i] && cls[i] !== 'none' ? ' · class ' + cls[i] : '';
                return escapeHtml(ctx.xText(t, i) + c);
              }
            }
          },
          underlayCallback: function (c, area, g) { shadeFaults(c, area, g, ctx, function () { return true; }); }
        });
      }
      // Which classes the model named, and when.
      const byClass = new Map();
      flagged.forEach(function (f, i) {
        if (f !== true) return;
        const c = typeof cls[i] === 'string' && cls[i] ? cls[i] : '(unnamed)';
        if (!byClass.has(c)) byClass.set(c, { count: 0, first: i, last: i });
        const e = byClass.get(c);
        e.count += 1;
        e.last = i;
      });
      if (byClass.size) {
        sec.appendChild(el('h3', null, 'Classes named in flagged cycles'));
        sec.appendChild(table(['Class', '#Cycles', '#First cycle', '#Last cycle'],
          Array.from(byClass.entries()).map(function (e) {
            return [e[0], fmt(e[1].count), fmt(e[1].first + 1), fmt(e[1].last + 1)];
          })));
      }
    }

    sec.appendChild(el('h3', null, 'Scheduled faults'));
    if (!ctx.faults.length) {
      sec.appendChild(el('p', { class: 'empty' }, 'No faults were scheduled in this run.'));
      return;
    }
    sec.appendChild(table(['Type', 'Target', 'Onset', 'End', 'Expected class', 'Cycles to flag', 'Named by',
      'Time to insight', 'Energy to insight'],
      ctx.faults.map(function (f, k) {
        const where = 'faults[' + k + ']';
        const expected = optional(f.raw, 'expected_class', where);
        const toFlag = optional(f.raw, 'cycles_to_flag', where);
        const caught = typeof toFlag === 'number' && toFlag >= 0;
        return [f.type, f.target, ctx.timeText(f.raw.start_s), num(optional(f.raw, 'end_s', where)) === null ? 'open-ended' : ctx.timeText(f.raw.end_s),
          expected === null ? '—' : expected,
          el('span', { class: caught ? null : 'no' }, caught ? fmt(toFlag) : 'not flagged'),
          optional(f.raw, 'named_by', where) || '—',
          num(optional(f.raw, 'time_to_insight_s', where)) === null ? '—' : fmt(f.raw.time_to_insight_s) + ' s',
          num(optional(f.raw, 'energy_to_insight_j', where)) === null ? '—' : fmt(f.raw.energy_to_insight_j) + ' J'];
      })));
  }

  // ---------------------------------------------------------------- 6. cycle latency

  function renderLatency(D, sec, ctx) {
    const timings = field(D, 'timings', 'report');
    const names = list(timings, 'names', 'timings');
    const values = list(timings, 'values', 'timings');
    if (values.length !== names.length)
      throw new Error('report data: timings.values has ' + values.length + ' series for ' + names.length + ' names');
    const stages = values.map(function (v, j) {
      if (!Array.isArray(v) || v.length !== ctx.n)
        throw new Error('report data: timings.values[' + j + '] (' + names[j] + ') is not one value a cycle (' + ctx.n + ')');
      return v.map(num);
    });
    const total = perCycle(timings, 'total_ms', 'timings', ctx.n).map(num);
    const deadline = num(field(D, 'deadline_ms', 'report', true));

    // Time the stages do not account for (waiting, gathering) shows as its own band.
    const other = total.map(function (tot, i) {
      if (tot === null) return null;
      const sum = stages.reduce(function (s, st) { return s + (st[i] || 0); }, 0);
      return Math.max(0, tot - sum);
    });
    const showOther = other.some(function (v) { return v !== null && v > 1e-3; });
    const labels = ['t'].concat(names.map(function (nm) { return nm.replace(/_ms$/, ''); }), showOther ? ['other'] : []);
    const rows = ctx.t.map(function (t, i) {
      return [t].concat(stages.map(function (st) { return st[i]; }), showOther ? [other[i]] : []);
    });

    const S = D.summary && typeof D.summary === 'object' ? D.summary : {};
    const overDeadline = deadline === null ? 0 : total.filter(function (v) { return v !== null && v > deadline; }).length;
    const misses = typeof S.deadline_misses === 'number' ? S.deadline_misses : overDeadline;
    const maxTotal = Math.max.apply(null, [0].concat(rows.map(function (r) {
      return r.slice(1).reduce(function (s, v) { return s + (v || 0); }, 0);
    }), total.filter(function (v) { return v !== null; })));

    sec.appendChild(el('p', { class: 'intro' },
      'Wall time of each cycle, stacked by stage, against the cycle deadline.'));
    sec.appendChild(el('p', { class: 'note' },
      (deadline === null ? 'No deadline is configured. ' : 'Deadline ' + fmt(deadline) + ' ms: '),
      el('strong', { class: misses > 0 ? 'no' : null }, fmt(misses) + ' deadline miss' + (misses === 1 ? '' : 'es')),
      ' in the run' +
      (deadline !== null && overDeadline !== misses ? ' (' + fmt(overDeadline) + ' cycles above the deadline in the timings below; ' +
        'the summary also counts cycles in which the source was silent)' : '') +
      '. Cycle time median ' + fmt(percentile(total, 0.5)) + ' ms, 99th percentile ' + fmt(percentile(total, 0.99)) +
      ' ms, max ' + fmt(percentile(total, 1)) + ' ms.'));

    const box = chartBox(sec, 'Cycle time by stage', 'ms', true);
    const deadlineInView = deadline !== null && maxTotal >= 0.25 * deadline;
    box.caption.textContent = deadline === null ? '' : deadlineInView
      ? 'Red line: the deadline.'
      : 'The deadline (' + fmt(deadline) + ' ms) is ' + fmt(deadline / Math.max(maxTotal, 1e-9), 3) +
        '× the slowest cycle and lies above this chart.';
    if (countPoints(rows) === 0) {
      box.div.replaceWith(el('p', { class: 'empty' }, 'No stage timings in this run.'));
      return;
    }
    const top = deadlineInView ? Math.max(maxTotal, deadline) * 1.08 : maxTotal * 1.1 || 1;
    drawChart(ctx, box, rows, labels, {
      stackedGraph: true,
      fillGraph: true,
      fillAlpha: 0.75,
      strokeWidth: 0.6,
      colors: labels.slice(1).map(function (l, j) { return l === 'other' ? '#b3b3b3' : STAGE_COLOURS[j % STAGE_COLOURS.length]; }),
      valueRange: [0, top],
      ylabel: 'ms',
      underlayCallback: function (c, area, g) {
        if (deadlineInView) hline(c, area, g, deadline, COLOUR.deadline, [], 'deadline ' + fmt(deadline) + ' ms');
      }
    });
  }

  // ---------------------------------------------------------------- 7. drift and lifecycle

  function renderDrift(D, sec, ctx) {
    const drift = list(D, 'drift', 'report');
    const lifecycle = list(D, 'lifecycle', 'report');
    const signals = field(D, 'drift_signals', 'report', true);
    const detections = drift.map(function (d, k) {
      const w = 'drift[' + k + ']';
      return { cycle: field(d, 'cycle', w), t: num(field(d, 't_s', w)), signal: field(d, 'signal', w),
        statistic: optional(d, 'statistic', w), threshold: optional(d, 'threshold', w) };
    });
    const events = lifecycle.map(function (e, k) {
      const w = 'lifecycle[' + k + ']';
      return { cycle: field(e, 'cycle', w), t: num(field(e, 't_s', w)), event: field(e, 'event', w),
        model: optional(e, 'model', w), reason: optional(e, 'reason', w) };
    });

    if (signals === null) {
      sec.appendChild(el('p', { class: 'empty' }, 'No drift monitoring in this run.'));
      if (!detections.length && !events.length) return;
    } else {
      if (typeof signals !== 'object' || Array.isArray(signals)) throw new Error('report data: drift_signals is not an object');
      sec.appendChild(el('p', { class: 'intro' },
        'The signals the drift monitors watch. Vertical lines: red, a drift detected on that signal (faint: on another ' +
        'signal); blue dashed, a model lifecycle event.'));
      sec.appendChild(key([
        { kind: 'line', colour: COLOUR.drift, label: 'drift detected on this signal' },
        { kind: 'dash', colour: COLOUR.driftOther, label: 'drift on another signal' },
        { kind: 'dash', colour: COLOUR.lifecycle, label: 'lifecycle event' }
      ]));
      const grid = el('div', { class: 'chart-grid' });
      sec.appendChild(grid);
      eachItem(sec, Object.entries(signals), function (entry) {
        const name = entry[0], raw = entry[1];
        if (!Array.isArray(raw) || raw.length !== ctx.n)
          throw new Error('report data: drift_signals.' + name + ' is not one value a cycle (' + ctx.n + ')');
        const values = raw.map(num);
        const rows = ctx.t.map(function (t, i) { return [t, values[i]]; });
        const box = chartBox(grid, name, null);
        const mine = detections.filter(function (d) { return d.signal === name; });
        box.caption.textContent = mine.length ? fmt(mine.length) + ' drift detection(s) on this signal.' : 'No drift detected on this signal.';
        if (countPoints(rows) === 0) {
          box.div.replaceWith(el('p', { class: 'empty' }, 'This signal has no values in this run.'));
          return;
        }
        drawChart(ctx, box, rows, ['t', name], {
          colors: ['#444444'],
          strokeWidth: 1.2,
          underlayCallback: function (c, area, g) {
            for (const d of detections)
              if (d.t !== null && d.signal !== name) vline(c, area, g, d.t, COLOUR.driftOther, [2, 3]);
            events.forEach(function (e, k) {
              if (e.t !== null) vline(c, area, g, e.t, COLOUR.lifecycle, [6, 4], e.event, 1 + (k % 3));
            });
            for (const d of mine) if (d.t !== null) vline(c, area, g, d.t, COLOUR.drift, [], 'drift', 0);
          }
        });
      });
    }

    sec.appendChild(el('h3', null, 'Drift detections'));
    if (!detections.length) sec.appendChild(el('p', { class: 'empty' }, 'None.'));
    else sec.appendChild(table(['#Cycle', 'Time', 'Signal', '#Statistic', '#Threshold'],
      detections.map(function (d) { return [fmt(d.cycle), fmt(d.t) + ' s', d.signal, fmt(num(d.statistic)), fmt(num(d.threshold))]; })));

    sec.appendChild(el('h3', null, 'Model lifecycle events'));
    if (!events.length) sec.appendChild(el('p', { class: 'empty' }, 'None.'));
    else sec.appendChild(table(['#Cycle', 'Time', 'Event', 'Model', 'Reason'],
      events.map(function (e) {
        return [fmt(e.cycle), fmt(e.t) + ' s', e.event, e.model || '—',
          el('span', { class: 'reason' }, e.reason || '—')];
      })));
  }

  // ---------------------------------------------------------------- page

  const SECTIONS = [
    ['kpis', 'Key figures', renderKpis],
    ['sensors', 'Sensors', renderSensors],
    ['parameters', 'Parameters', renderParameters],
    ['controls', 'Controls and modes', renderControls],
    ['anomalies', 'Anomalies and faults', renderAnomalies],
    ['latency', 'Cycle latency', renderLatency],
    ['drift', 'Drift and model lifecycle', renderDrift]
  ];

  function main() {
    const D = window.TWIN_REPORT;
    const header = el('header', { class: 'report-header' },
      el('div', { class: 'inner' },
        el('h1', null, 'twin report: '),
        el('dl', { class: 'run-facts' }),
        el('nav', { class: 'toc' }, SECTIONS.map(function (s) { return el('a', { href: '#' + s[0] }, s[1]); }))));
    bannerEl = el('div', { class: 'report-error', hidden: true, id: 'report-banner' });
    const mainEl = el('main', null, bannerEl);
    statusEl = el('div', { id: 'report-status', 'data-state': 'rendering' });
    document.body.appendChild(header);
    document.body.appendChild(mainEl);
    document.body.appendChild(el('footer', { class: 'report-footer' }, statusEl));
    updateStatus('rendering');

    if (!D || typeof D !== 'object') {
      reportError('No report data: window.TWIN_REPORT is ' + (D === undefined ? 'not defined' : String(D)) +
        '. The data script of this page is missing or failed to parse.', null);
      updateStatus('done');
      return;
    }
    try {
      renderHeader(D, header);
    } catch (e) {
      reportError('Header: ' + (e && e.message ? e.message : String(e)), null);
    }
    let ctx = null;
    try {
      ctx = buildContext(D);
    } catch (e) {
      reportError('Run data: ' + (e && e.message ? e.message : String(e)) + ' (no time charts can be drawn)', null);
    }
    for (const [id, title, render] of SECTIONS) {
      const sec = el('section', { class: 'report-section', id: id }, el('h2', null, title));
      mainEl.appendChild(sec);
      const t0 = Date.now();
      try {
        if (!ctx && render !== renderKpis) throw new Error('skipped: the run\'s cycles and times could not be read');
        render(D, sec, ctx);
      } catch (e) {
        reportError(title + ': ' + (e && e.message ? e.message : String(e)), sec, e && e.stack);
      }
      // Kept in the DOM so a slow page can be traced to its section.
      sec.setAttribute('data-render-ms', String(Date.now() - t0));
    }
    updateStatus('done');
  }

  main();
})();
