// Drives the status page in Debian's headless chromium (playwright-core,
// installed by `make deps` into build/npm) for tests/integration/test_ui.py.
//
//   node tests/ui/page.mjs URL SCREENSHOT.png
//
// Talks with the test over lines: prints `shown {json}` (what the page shows
// once it has batches and a clicked batch's detail), waits for `restarted`
// on stdin (the test killed the job with kill -9 and started it again),
// prints `again {json}` once the page shows the new run, and exits. Every
// wait is bounded; a timeout exits 1 with the reason on stderr.
import {createRequire} from 'module';
import readline from 'readline';
const require = createRequire(process.cwd() + '/build/npm/');
const {chromium} = require('playwright-core');

const [url, shot] = process.argv.slice(2);
const lines = readline.createInterface({input: process.stdin});
const nextLine = () => new Promise(resolve => lines.once('line', resolve));

async function shown(page) {
  return page.evaluate(() => {
    const text = id => document.getElementById(id).textContent;
    const rows = [...document.querySelectorAll('#batches tbody tr')].map(tr => ({
      batch: Number(tr.dataset.batch), records: Number(tr.querySelector('.records').textContent),
      rows: Number(tr.querySelector('.rows').textContent)}));
    const charts = [...document.querySelectorAll('#stats-body tr')].map(tr => ({
      series: tr.dataset.series,
      points: tr.querySelectorAll('svg.timeline circle').length,
      polyline: tr.querySelector('svg.timeline polyline').getAttribute('points').trim().split(' ').length,
      histogram: [...tr.querySelectorAll('svg.histogram rect')].reduce((a, r) => a + Number(r.dataset.count), 0)}));
    return {last_batch: Number(text('last-batch')), total_batches: Number(text('total-batches')),
            total_records_in: Number(text('total-records-in')), total_rows: Number(text('total-rows')),
            conn: text('conn'), rows, charts,
            graph: [...document.querySelectorAll('#graph .box')].map(b => b.dataset.step),
            sources: [...document.querySelectorAll('#sources tbody tr')].map(tr => tr.textContent),
            output: text('output').split('\n').filter(l => l)};
  });
}

async function detail(page) {
  // a batch a few rows down: it stays in the table while new batches arrive
  const batch = Number(await page.locator('#batches tbody tr').nth(2).getAttribute('data-batch'));
  await page.locator(`#batches tbody tr[data-batch="${batch}"]`).click();
  await page.waitForFunction(b => {
    const d = document.getElementById('detail-batch');
    return d && d.textContent.startsWith('batch ' + b + ' ') && document.querySelector('#detail-plan tbody tr');
  }, batch, {timeout: 10000});
  return page.evaluate(b => ({
    batch: b,
    steps: Object.fromEntries([...document.querySelectorAll('#detail .step')].map(s =>
      [s.dataset.step, parseFloat(s.querySelector('.ms').textContent)])),
    plan: [...document.querySelectorAll('#detail-plan tbody tr')].map(tr =>
      [...tr.children].map(td => Number(td.textContent)))}), batch);
}

async function main() {
  const browser = await chromium.launch({executablePath: '/usr/bin/chromium',
                                         args: ['--no-sandbox', '--disable-gpu']});
  try {
    const page = await browser.newPage({viewport: {width: 1400, height: 1800}});
    const errors = [];
    page.on('pageerror', e => errors.push(String(e)));
    page.on('requestfailed', r => { if (!r.url().startsWith(url)) errors.push('outside request ' + r.url()); });
    await page.goto(url, {timeout: 15000});
    await page.waitForFunction(() => document.querySelectorAll('svg.timeline circle').length >= 4 * 4 &&
                               document.querySelectorAll('#batches tbody tr').length >= 4,
                               null, {timeout: 30000});
    const d = await detail(page);
    const s = await shown(page);
    await page.screenshot({path: shot, fullPage: true});
    console.log('shown ' + JSON.stringify(Object.assign(s, {detail: d, errors})));
    await nextLine();
    const before = s.last_batch;
    // the restarted job's own batches: as many points per chart as the first wait asked
    await page.waitForFunction(b => Number(document.getElementById('last-batch').textContent) > b + 2 &&
                               document.getElementById('conn').textContent === 'live' &&
                               document.querySelectorAll('svg.timeline circle').length >= 4 * 4,
                               before, {timeout: 60000});
    await page.waitForTimeout(1500);
    console.log('again ' + JSON.stringify(Object.assign(await shown(page), {errors})));
    await page.screenshot({path: shot.replace(/\.png$/, '-restarted.png'), fullPage: true});
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(0), e => { console.error('page.mjs: ' + (e && e.stack || e)); process.exit(1); });
