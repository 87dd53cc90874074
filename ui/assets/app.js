// The status page: polls /api/v1/* (same origin, nothing from the network)
// and draws the charts as inline SVG. Every text from the job goes in
// through textContent, never as HTML.
'use strict';

const N_BATCHES = 120;
const STEPS = ['plan', 'wal', 'read', 'transform', 'state', 'sink', 'commit', 'snapshot'];
const SERIES = [
  {key: 'input_rate', name: 'input rate', unit: 'records/s'},
  {key: 'processing_ms', name: 'processing time', unit: 'ms'},
  {key: 'scheduling_delay_ms', name: 'scheduling delay', unit: 'ms'},
  {key: 'total_delay_ms', name: 'total delay', unit: 'ms'},
];
const SVG = 'http://www.w3.org/2000/svg';
let lastBatch = -1, batches = [], selected = null, pollMs = 1000, mode = null, lastSnap = -1;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : String(k));
  return e;
}
function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}
function fmt(v, digits) {
  if (v === null || v === undefined) return '-';
  return Number(v).toLocaleString('en-US', {maximumFractionDigits: digits === undefined ? 1 : digits});
}
function setText(id, v) { document.getElementById(id).textContent = v; }
async function get(path) {
  const r = await fetch(path, {cache: 'no-store'});
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

// A line over the batches, one point per batch (x = batch index).
function timeline(values) {
  const w = 420, h = 90, pad = 24;
  const s = svg('svg', {class: 'chart timeline', width: w, height: h, 'data-points': values.length});
  const max = Math.max(1e-9, ...values);
  const x = i => pad + (values.length > 1 ? i * (w - pad - 4) / (values.length - 1) : 0);
  const y = v => h - 14 - v / max * (h - 24);
  s.append(svg('polyline', {points: values.map((v, i) => x(i) + ',' + y(v)).join(' ')}));
  values.forEach((v, i) => s.append(svg('circle', {cx: x(i), cy: y(v), r: 1.6})));
  const top = svg('text', {x: 2, y: 10}); top.textContent = fmt(max);
  const bottom = svg('text', {x: 2, y: h - 4}); bottom.textContent = '0';
  s.append(top, bottom);
  return s;
}

// Counts of the values in 10 equal bins between 0 and the largest.
function histogram(values) {
  const w = 260, h = 90, bins = 10, counts = new Array(bins).fill(0);
  const max = Math.max(1e-9, ...values);
  for (const v of values) counts[Math.min(bins - 1, Math.floor(v / max * bins))]++;
  const top = Math.max(1, ...counts);
  const s = svg('svg', {class: 'chart histogram', width: w, height: h, 'data-points': values.length});
  counts.forEach((c, i) => {
    const bh = c / top * (h - 20);
    s.append(svg('rect', {class: 'bar', x: 4 + i * (w - 8) / bins, y: h - 14 - bh,
                          width: (w - 8) / bins - 2, height: bh, 'data-count': c}));
  });
  const label = svg('text', {x: w - 60, y: h - 2}); label.textContent = fmt(max);
  s.append(label);
  return s;
}

function drawStats() {
  const body = document.getElementById('stats-body');
  body.replaceChildren();
  for (const sr of SERIES) {
    const vals = batches.map(b => b[sr.key]);
    const avg = vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : 0;
    const name = el('td', {class: 'name'}, el('b', {}, sr.name),
                    el('span', {id: 'avg-' + sr.key}, 'avg ' + fmt(avg) + ' ' + sr.unit));
    body.append(el('tr', {'data-series': sr.key}, name, el('td', {}, timeline(vals)),
                   el('td', {}, histogram(vals))));
  }
  if (batches.length)
    setText('stats-span', 'batches ' + batches[0].batch + ' to ' + batches[batches.length - 1].batch);
}

// Records per step where the counters say it: the source reads records_in,
// parse keeps records_in - bad, filters keep records_kept, sinks get rows.
function stepCount(word, b) {
  if (!b) return null;
  if (word === 'source') return b.records_in;
  if (word === 'parse') return b.records_in - b.bad_records;
  if (['filter', 'where', 'select', 'map', 'key', 'dedupe'].includes(word)) return b.records_kept;
  if (word === 'sink') return b.rows;
  return null;
}

function drawGraph(text, b) {
  const g = document.getElementById('graph');
  g.replaceChildren();
  const skip = ['job', 'batch', 'checkpoint'];
  const lines = text.split('\n').map(l => l.trim()).filter(l => l && !l.startsWith('#'));
  let first = true;
  for (const line of lines) {
    const word = line.split(/\s+/)[0];
    if (skip.includes(word)) continue;
    if (!first) g.append(el('span', {class: 'arrow'}, '\u2192'));
    first = false;
    const n = stepCount(word, b);
    const box = el('div', {class: 'box', 'data-step': word}, el('b', {}, word), el('code', {}, line));
    if (n !== null) box.append(el('div', {class: 'n'}, fmt(n, 0) + ' records'));
    g.append(box);
  }
}

async function planOf(b) {
  if (b.plan) return b.plan;
  const w = await get('/api/v1/dir/wal?from=' + b.batch + '&limit=1');
  return w.records.length && w.records[0].batch === b.batch ? w.records[0].ranges || [] : [];
}

async function drawDetail(b) {
  const d = document.getElementById('detail');
  d.replaceChildren(el('div', {id: 'detail-batch'}, 'batch ' + b.batch + (b.replay ? ' (replay)' : '') +
                    ' at ' + new Date(b.batch_time_ms).toISOString()));
  const total = Math.max(1e-9, ...STEPS.map(s => b.steps_ms[s]));
  for (const s of STEPS) {
    const ms = b.steps_ms[s];
    d.append(el('div', {class: 'step', 'data-step': s}, el('span', {}, s),
                el('i', {style: 'width:' + Math.round(ms / total * 200) + 'px'}),
                el('em', {class: 'ms'}, ms.toFixed(3) + ' ms')));
  }
  const plan = el('table', {class: 'grid', id: 'detail-plan'},
                  el('thead', {}, el('tr', {}, el('th', {}, 'source'), el('th', {}, 'partition'),
                                     el('th', {}, 'from'), el('th', {}, 'to'))));
  const body = el('tbody');
  for (const r of await planOf(b)) body.append(el('tr', {}, el('td', {}, r.source || 0),
                                         el('td', {}, r.partition), el('td', {}, r.from),
                                         el('td', {}, r.to)));
  plan.append(body);
  d.append(el('div', {}, 'records ' + b.records_in + ', rows ' + b.rows + ', state keys ' +
              b.state_keys), el('h3', {}, 'plan'), plan);
}

function drawBatches() {
  const body = document.querySelector('#batches tbody');
  body.replaceChildren();
  for (const b of batches.slice(-25).reverse()) {
    const tr = el('tr', {'data-batch': b.batch}, el('td', {}, b.batch + (b.replay ? ' r' : '')),
                  el('td', {}, new Date(b.batch_time_ms).toISOString().slice(11, 23)),
                  el('td', {class: 'records'}, b.records_in), el('td', {class: 'rows'}, b.rows),
                  el('td', {}, b.processing_ms.toFixed(1)), el('td', {}, b.scheduling_delay_ms.toFixed(1)),
                  el('td', {}, b.total_delay_ms.toFixed(1)));
    if (selected === b.batch) tr.classList.add('sel');
    tr.addEventListener('click', () => { selected = b.batch; drawDetail(b); drawBatches(); });
    body.append(tr);
  }
}

function fillTable(id, rows) {
  const body = document.querySelector('#' + id + ' tbody');
  body.replaceChildren(...rows.map(r => el('tr', {}, ...r.map(c => el('td', {}, c)))));
}

function drawStatus(st) {
  setText('job-name', st.job);
  setText('last-batch', st.last_batch ? st.last_batch.batch : '-');
  setText('total-batches', st.totals.batches);
  setText('total-records-in', st.totals.records_in);
  setText('total-rows', st.totals.rows);
  setText('total-bad', st.totals.bad_records);
  setText('uptime', fmt(st.uptime_s, 0) + ' s');
  setText('kinds', st.source + ' / ' + st.sink);
  setText('recovery', st.replayed_at_start ? st.replayed_at_start + ' batches in ' +
          fmt(st.last_recovery_ms) + ' ms' : 'none');
  setText('recovery-estimate', fmt(st.recovery_estimate_s, 2) + ' s');
  document.getElementById('error-box').hidden = !st.last_error;
  setText('last-error', st.last_error);
  if (st.interval_ms) pollMs = Math.min(2000, Math.max(250, st.interval_ms));
}

async function refreshBatch(st) {
  const [bs, src, ops, snaps, out] = await Promise.all([
    get('/api/v1/batches?n=' + N_BATCHES), get('/api/v1/sources'), get('/api/v1/operators'),
    get('/api/v1/snapshots'), get('/api/v1/output')]);
  batches = bs.batches;
  drawStats();
  drawGraph(st.job_text, st.last_batch);
  drawBatches();
  const parts = src.sources.flatMap(s => s.partitions);
  fillTable('sources', parts.map(p => [p.source, p.partition, p.committed, p.end === null ? '-' : p.end,
                                       p.lag === null ? '-' : p.lag]));
  fillTable('operators', ops.operators.map(o => [o.name, o.state_keys, o.state_bytes]));
  if (snaps.last_snapshot_batch !== lastSnap) {
    lastSnap = snaps.last_snapshot_batch;
    drawSnapshots(await get('/api/v1/dir/snapshots'));
  }
  fillTable('wal', snaps.wal_segments.map(w => [w.name, w.bytes]));
  setText('snapinfo', 'every ' + snaps.every + ' batches; taken by this run ' + snaps.snapshots_taken +
          (snaps.last_snapshot_ms ? ', newest in ' + fmt(snaps.last_snapshot_ms) + ' ms' : ''));
  const first = out.sinks[0];
  setText('output-info', first ? out.sinks.length + ' sink(s), up to batch ' + first.batch : '');
  setText('output', out.sinks.map(s => '# sink ' + s.index + ': ' + s.sink + ' (stream ' + s.stream + ')\n' +
                                  s.rows.join('\n')).join('\n'));
}

function drawSnapshots(list) {
  fillTable('snapshots', list.map(s => [s.batch, s.bytes, s.verify + (s.reason ? ': ' + s.reason : '')]));
}

async function pollLive() {
  const st = await get('/api/v1/status');
  drawStatus(st);
  const b = st.last_batch ? st.last_batch.batch : 0;
  if (b !== lastBatch) {
    await refreshBatch(st);
    await refreshCheckpoint(b);
    lastBatch = b;
  }
}

// ember ui DIR: progress.jsonl's objects in the shape of /api/v1/batches.
function fromHistory(h) {
  const steps = {};
  for (const s of STEPS) steps[s] = h[s + '_ms'] || 0;
  steps.total = h.processing_ms;
  return Object.assign({}, h, {steps_ms: steps, total_delay_ms: h.scheduling_delay_ms + h.processing_ms,
    plan: null, input_rate: h.input_rate || 0});
}

// DIR of `ember run --instance`: its tasks (each task's checkpoint is DIR/tasks/N)
function drawInstance(j) {
  document.getElementById('instance-box').hidden = false;
  setText('job-name', j.job + ' (instance ' + j.instance + ', read-only)');
  setText('instance-info', 'group ' + j.group + ', topic ' + j.topic + ', pid ' + j.pid);
  fillTable('tasks', j.tasks.map(t => [t.task, t.stage, t.phase + (t.fenced ? ' (fenced)' : ''),
    t.committed_batch, t.offset, t.lag,
    t.restore.batches ? t.restore.restored + ' of ' + t.restore.batches + ' batches, ' +
      t.restore.ms + ' ms' : '-']));
}

async function pollDir() {
  const inst = await fetch('/api/v1/dir/instance', {cache: 'no-store'});
  if (inst.ok) return drawInstance(await inst.json());
  const st = await get('/api/v1/dir/status');
  const c = st.committed || {batch: 0, records: 0, offsets: {}};
  setText('job-name', st.job + ' (checkpoint, read-only)');
  setText('last-batch', c.batch);
  setText('kinds', 'sink ' + st.sink);
  document.getElementById('output-box').hidden = true;
  if (c.batch === lastBatch) return;
  const [hist, ops, snaps] = await Promise.all([get('/api/v1/dir/history?n=' + N_BATCHES),
    get('/api/v1/dir/state/operators'), get('/api/v1/dir/snapshots')]);
  batches = hist.map(fromHistory);
  const total = k => batches.reduce((a, b) => a + (b[k] || 0), 0);
  for (const id of ['total-batches', 'total-records-in', 'total-rows'])  // over the batches shown
    document.getElementById(id).previousElementSibling.textContent =
      document.getElementById(id).previousElementSibling.textContent.replace('this run', 'shown');
  setText('total-batches', batches.length);
  setText('total-records-in', total('records_in'));
  setText('total-rows', total('rows'));
  setText('total-bad', total('bad_records'));
  drawStats();
  document.getElementById('graph').textContent = 'the job graph shows while the job runs (ember run --ui)';
  drawBatches();
  // offsets' keys are tagged partitions: the source's number in the top byte
  fillTable('sources', Object.entries(c.offsets).map(([p, o]) => [Number(p) >>> 24, Number(p) & 0xffffff,
                                                                  o, '-', '-']));
  fillTable('operators', ops.map(o => [o.op, o.keys, o.bytes]));
  drawSnapshots(snaps);
  fillTable('wal', st.wal.segments.map(w => [w.name, w.bytes]));
  setText('snapinfo', snaps.length + ' snapshots');
  await refreshCheckpoint(c.batch, ops);
  lastBatch = c.batch;
}

async function poll() {
  const conn = document.getElementById('conn');
  try {
    if (!mode) mode = (await get('/api/v1/mode')).mode;
    await (mode === 'dir' ? pollDir() : pollLive());
    conn.textContent = 'live';
    conn.className = 'conn ok';
  } catch (e) {
    conn.textContent = 'unreachable, retrying';
    conn.className = 'conn down';
    lastBatch = -1; // a restarted job starts its counters again: redraw all
  }
  setTimeout(poll, pollMs);
}

// The checkpoint section: the state browser, the diff, the WAL's newest
// records, all through /api/v1/dir/ (read-only, also while the job runs).
async function refreshCheckpoint(batch, ops) {
  try {
    const sel = document.getElementById('state-op');
    // counting keys reads the whole state: once, unless the caller has the list
    if (!ops && !sel.options.length) ops = await get('/api/v1/dir/state/operators');
    if (ops && sel.options.length !== ops.length)
      sel.replaceChildren(...ops.map(o => el('option', {value: o.op}, o.op)));
    const w = await get('/api/v1/dir/wal?from=' + Math.max(1, batch - 19) + '&limit=20');
    fillTable('wal-records', w.records.map(r => [r.segment, r.offset, r.type, r.batch, r.bytes,
      (r.ranges || []).map(x => x.partition + ':[' + x.from + ',' + x.to + ')').join(' ')]));
  } catch (e) {
    setText('state-msg', String(e.message));
  }
}

function rowsTable(id, rows) {
  const t = document.getElementById(id);
  const cols = rows.length ? Object.keys(rows[0]) : [];
  t.tHead.replaceChildren(el('tr', {}, ...cols.map(c => el('th', {}, c))));
  t.tBodies[0].replaceChildren(...rows.map(r => el('tr', {}, ...cols.map(c => el('td', {}, r[c])))));
}

async function errorOf(r) {
  try { return (await r.json()).error; } catch (e) { return 'HTTP ' + r.status; }
}

document.getElementById('state-form').addEventListener('submit', async ev => {
  ev.preventDefault();
  const op = document.getElementById('state-op').value, key = document.getElementById('state-key').value;
  const prefix = document.getElementById('state-prefix').value;
  const q = new URLSearchParams({op: op});
  if (key) q.set('key', key); else q.set('prefix', prefix);
  const r = await fetch('/api/v1/dir/state/' + (key ? 'get' : 'scan') + '?' + q, {cache: 'no-store'});
  setText('state-msg', r.ok ? '' : await errorOf(r));
  rowsTable('state-rows', r.ok ? (await r.json()).rows : []);
});

document.getElementById('diff-form').addEventListener('submit', async ev => {
  ev.preventDefault();
  const q = new URLSearchParams({a: document.getElementById('diff-a').value,
                                 b: document.getElementById('diff-b').value, limit: '100'});
  const r = await fetch('/api/v1/dir/diff?' + q, {cache: 'no-store'});
  if (!r.ok) { setText('diff-msg', await errorOf(r)); fillTable('diff-rows', []); return; }
  const d = await r.json();
  setText('diff-msg', d.added + ' added, ' + d.removed + ' removed, ' + d.changed + ' changed' +
          (d.more ? ' (first 100 shown)' : ''));
  fillTable('diff-rows', d.changes.map(c => [c.key, c.change, JSON.stringify(c.old), JSON.stringify(c.new)]));
});
poll();
