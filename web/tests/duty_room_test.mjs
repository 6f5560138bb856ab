// The duty room in a real browser: Debian's chromium driven over the DevTools protocol by
// puppeteer-core, against a real `ewarn serve` on 127.0.0.1 with its own data directory.
//
//   node web/tests/duty_room_test.mjs --ewarn build/app/ewarn --out build/web-screenshots
//
// Journeys: sign in (no token in any URL), see boundaries and stations, an area changes colour
// when reports arrive (pushed, not polled), open an assessment, an incident text
// `<img src=x onerror=alert(1)>` shows as text, acknowledge an alert and find the ack in the
// log, mark a report false and see the risk fall, export CSV, sign out; a bad session gets the
// sign-in page. Screenshots of the main views go to --out. Exits non-zero on the first failure.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) =>
  (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []));
const ewarn = path.resolve(args.ewarn || 'build/app/ewarn');
const out = path.resolve(args.out || 'build/web-screenshots');
const chromium = args.chromium || '/usr/bin/chromium';
fs.mkdirSync(out, { recursive: true });
if (!fs.existsSync(chromium)) {
  console.error(`FAIL: ${chromium} is missing; run scripts/deps.sh (Debian package chromium)`);
  process.exit(1);
}

let failures = 0;
function check(condition, what, detail = '') {
  if (condition) console.log(`ok   ${what}`);
  else { failures++; console.log(`FAIL ${what}${detail ? `: ${detail}` : ''}`); }
  return condition;
}
function run(...argv) {
  return execFileSync(ewarn, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
}
const lastLine = (s) => s.trim().split('\n').pop();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function eventually(fn, ms = 20000, step = 200) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(step);
  }
  return last;
}

// --- a small country: LAGOS with districts IKEJA (three wards) and EPE ---
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ewarn-web-'));
const data = path.join(dir, 'data');
const rows = ['station_id,name,region,district,ward,lat,lon,registered_voters'];
for (let i = 1; i <= 30; i++) rows.push(`S${i},Ikeja School ${i},LAGOS,IKEJA,W${i % 3},${6.58 + 0.003 * i},${3.33 + 0.002 * (i % 7)},1000`);
for (let i = 1; i <= 10; i++) rows.push(`E${i},Epe Hall ${i},LAGOS,EPE,E${i % 2},${6.58 + 0.004 * i},${3.95 + 0.003 * (i % 5)},800`);
fs.writeFileSync(path.join(dir, 'stations.csv'), `${rows.join('\n')}\n`);
const square = (x0, y0, x1, y1) => [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]];
const feature = (area, coordinates) => ({ type: 'Feature', properties: { area }, geometry: { type: 'Polygon', coordinates } });
fs.writeFileSync(path.join(dir, 'areas.geojson'), JSON.stringify({ type: 'FeatureCollection', features: [
  feature('LAGOS', square(3.2, 6.45, 4.15, 6.75)),
  feature('LAGOS/IKEJA', square(3.3, 6.55, 3.5, 6.7)),
  feature('LAGOS/EPE', square(3.9, 6.55, 4.05, 6.65)),
] }));
run('import-stations', '--data', data, path.join(dir, 'stations.csv'));
console.log(run('import-areas', '--data', data, path.join(dir, 'areas.geojson')).trim());
const duty = lastLine(run('token', 'create', '--data', data, '--role', 'duty', '--name', 'duty-room'));
const liaison = lastLine(run('liaison', 'add', '--data', data, '--name', 'ikeja-police', '--role', 'police', '--area', 'LAGOS/IKEJA'));
const monitors = [0, 1, 2, 3].map((i) => lastLine(run('token', 'create', '--data', data, '--role', 'monitor', '--name', `mon${i}`)));

const serve = spawn(ewarn, ['serve', '--data', data, '--http', '127.0.0.1:0', '--tick-ms', '200', '--duration', '300'],
  { stdio: ['ignore', 'pipe', 'inherit'] });
const base = await new Promise((resolve, reject) => {
  let text = '';
  serve.stdout.on('data', (chunk) => {
    text += chunk;
    const m = text.match(/http:\/\/127\.0\.0\.1:\d+/);
    if (m) resolve(m[0]);
  });
  serve.on('exit', (code) => reject(new Error(`ewarn serve exited with ${code}`)));
  setTimeout(() => reject(new Error('ewarn serve printed no address')), 20000);
});
console.log(`serving on ${base}, data in ${data}`);

async function report(token, body) {
  const r = await fetch(`${base}/v1/incidents`, { method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}
async function asDuty(p) {
  const r = await fetch(`${base}${p}`, { headers: { Authorization: `Bearer ${duty}` } });
  return r.json();
}

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'],
});
const urls = [];
const dialogs = [];
const consoleErrors = [];
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  page.on('request', (r) => urls.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('response', (r) => { if (r.status() >= 400) consoleErrors.push(`${r.status()} ${new URL(r.url()).pathname}`); });

  // 1. No session: the sign-in page. Signing in exchanges the token for an HttpOnly cookie.
  await page.goto(`${base}/`);
  await page.waitForFunction(() => location.pathname === '/signin.html', { timeout: 10000 });
  check(true, 'without a session the duty room sends the officer to the sign-in page');
  await page.type('#token', duty);
  await page.screenshot({ path: path.join(out, 'signin.png') });
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 20000 });
  const cookies = await page.cookies();
  const session = cookies.find((c) => c.name === 'ewarn_session');
  check(session && session.httpOnly && session.sameSite === 'Strict' && session.expires > Date.now() / 1000,
    'the session cookie is HttpOnly, SameSite=Strict and expires', JSON.stringify(session));
  check(await page.evaluate(() => document.cookie) === '', 'the page script cannot read the session cookie');

  // 2. Boundaries and stations on the map.
  const areaPaths = await page.$$eval('.leaflet-overlay-pane path.area', (ps) => ps.length);
  const stations = await page.$$eval('.station-dot, .cluster', (ms) => ms.length);
  check(areaPaths >= 1, 'imported boundaries are drawn', `${areaPaths} area paths`);
  check(stations >= 1, 'stations are drawn, clustered', `${stations} markers and clusters`);
  check(await page.$('[data-testid=legend]') !== null, 'the map has a legend');
  await page.screenshot({ path: path.join(out, 'map.png') });

  // 3. Reports arrive: the district turns from grey to a risk colour without a reload.
  // Whichever level the zoom shows (only one is on the map): S4's ward, its district or region.
  const fill = () => page.$eval('path.area-LAGOS-IKEJA-W1, path.area-LAGOS-IKEJA, path.area-LAGOS',
    (p) => p.getAttribute('fill')).catch(() => null);
  const before = await eventually(fill, 5000);
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const texts = ['armed group at the gate', 'men with machetes at the school', '<img src=x onerror=alert(1)>'];
  const sent = [];
  for (let i = 0; i < 3; i++) {
    const r = await report(monitors[i], { event_id: `web-inc-${i}`, occurred_at: now, station_id: 'S4',
      category: 'violence', severity: 5, description: texts[i] });
    sent.push(r);
  }
  check(sent.every((r) => r.status === 202), 'three violence reports accepted', JSON.stringify(sent.map((r) => r.status)));
  const riskAt = Date.now();
  const changedFill = await eventually(async () => { const f = await fill(); return f && f !== before ? f : null; }, 30000, 100);
  const pushedAfter = Date.now() - riskAt;
  check(changedFill && changedFill !== before, 'the district changes colour when reports arrive',
    `${before} -> ${changedFill} after ${pushedAfter} ms`);
  const lastChange = await page.evaluate(() => document.body.dataset.lastChange);
  check(Boolean(lastChange), 'the change came over the live feed (Server-Sent Events), not a reload');
  console.log(`     report to colour change: ${pushedAfter} ms (processing commit included)`);

  // 4. Open an assessment by searching for the station; factors, explanations and the reports.
  await page.click('#search', { clickCount: 3 });
  await page.type('#search', 'S4');
  await page.click('#search-form button');
  await page.waitForSelector('[data-testid=assessment][data-subject=S4]', { timeout: 10000 });
  const level = await eventually(() => page.$eval('[data-testid=assessment]', (a) =>
    (a.dataset.level !== 'low' ? a.dataset.level : null)), 15000);
  check(['elevated', 'high', 'critical'].includes(level), 'the assessment shows the raised level', level);
  await page.waitForSelector('.reports-behind .report-text', { timeout: 10000 });
  const shown = await page.$$eval('.report-text', (ns) => ns.map((n) => n.textContent));
  check(shown.includes('<img src=x onerror=alert(1)>'), 'an incident text with markup shows as text', JSON.stringify(shown));
  check(await page.$('img[src="x"]') === null && dialogs.length === 0, 'and runs nothing', JSON.stringify(dialogs));
  const explanation = await page.$eval('[data-testid=assessment]', (a) => a.textContent);
  check(explanation.includes('independent reporters'), 'the factors carry their explanations');
  await page.screenshot({ path: path.join(out, 'assessment.png') });

  // 5. The alert: acknowledged from the page, and the ack is an event in the log.
  await page.click('button[data-tab=alerts]');
  const alertId = await eventually(() => page.$eval('#alerts li[data-state=open]', (li) => li.dataset.alert).catch(() => null), 30000);
  check(Boolean(alertId), 'the alert is listed as open', alertId);
  await page.screenshot({ path: path.join(out, 'alerts.png') });
  if (alertId) {
    await page.type(`#alerts li[data-alert="${alertId}"] input`, 'patrol sent');
    await page.click(`#alerts li[data-alert="${alertId}"] button.ack`);
    const acked = await eventually(() => page.$eval(`#alerts li[data-alert="${alertId}"]`, (li) => li.dataset.state)
      .then((s) => (s === 'acknowledged' ? s : null)).catch(() => null), 20000);
    check(acked === 'acknowledged', 'acknowledged from the page, it shows as acknowledged');
    await page.click(`#alerts li[data-alert="${alertId}"] button.show-history`);
    const history = await eventually(() => page.$eval(`#alerts li[data-alert="${alertId}"] .history`, (h) => h.textContent)
      .then((t) => (t.includes('acknowledged') ? t : null)).catch(() => null), 10000);
    check(Boolean(history) && history.includes('duty-room'), "the alert's history shows who acknowledged", history);
  }

  // 6. Triage: mark the reports false; the station's risk falls.
  await page.click('button[data-tab=triage]');
  await page.waitForSelector('#reports li[data-report="web-inc-0"]', { timeout: 10000 });
  await page.screenshot({ path: path.join(out, 'triage.png') });
  const riskBefore = (await asDuty('/v1/risk/stations/S4')).score;
  for (const id of ['web-inc-0', 'web-inc-1', 'web-inc-2']) {
    await page.waitForSelector(`#reports li[data-report="${id}"] button[data-decision=false]`);
    await page.click(`#reports li[data-report="${id}"] button[data-decision=false]`);
    await page.waitForSelector(`#reports li[data-report="${id}"][data-status=false]`, { timeout: 10000 });
  }
  check(true, 'three reports marked false from the page');
  const fallen = await eventually(async () => {
    const a = await asDuty('/v1/risk/stations/S4');
    return a.score < riskBefore && a.level === 'low' ? a : null;
  }, 30000, 300);
  check(Boolean(fallen), 'the station risk falls once its reports are marked false',
    `score ${riskBefore} -> ${fallen?.score ?? (await asDuty('/v1/risk/stations/S4')).score}`);
  const audit = await asDuty('/v1/reports/web-inc-0');
  check(audit.reviews?.length === 1 && audit.reviews[0].reviewer === 'duty-room' && audit.reviews[0].status === 'false',
    'the report keeps an audit trail of its decisions', JSON.stringify(audit.reviews));

  // 7. Export CSV (following the triage filter) with its HXL row.
  const csv = await page.evaluate(async () => {
    const r = await fetch(document.getElementById('export-reports').href, { credentials: 'same-origin' });
    return { type: r.headers.get('content-type'), text: await r.text() };
  });
  const lines = csv.text.split('\r\n');
  check(csv.type.startsWith('text/csv') && lines[0].startsWith('event_id,') && lines[1].startsWith('#meta+id,'),
    'the CSV export has a header and an HXL hashtag row', lines.slice(0, 2).join(' | '));
  check(csv.text.includes('"<img src=x onerror=alert(1)>"') || csv.text.includes('<img src=x onerror=alert(1)>'),
    'the export holds the reports');

  // 7b. Export the alerts as CSV by clicking the link, following the state filter (the state the
  // acknowledged alert has now: resolved once its reports were marked false).
  const alertState = alertId ? (await asDuty(`/v1/alerts/${encodeURIComponent(alertId)}`)).state : 'acknowledged';
  await page.click('button[data-tab=alerts]');
  await page.select('#alert-state', alertState);
  await page.waitForFunction((s) => document.getElementById('export-alerts').href.includes(`state=${s}`), {}, alertState);
  const downloads = fs.mkdtempSync(path.join(dir, 'downloads-'));
  const browserSession = await browser.target().createCDPSession();
  await browserSession.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
  await page.click('#export-alerts');
  const alertsCsv = await eventually(() => {
    const file = path.join(downloads, 'alerts.csv');
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
  }, 15000, 200);
  const alertLines = (alertsCsv || '').split('\r\n').filter((l) => l);
  check(alertLines[0]?.startsWith('alert_id,state,level,area,') && alertLines[1]?.startsWith('#meta+id,#status,#severity,#adm+path,#adm1+name'),
    'the alerts CSV export (clicked) has a header and an HXL hashtag row', alertLines.slice(0, 2).join(' | '));
  check(alertLines.length > 2 && alertLines.slice(2).every((l) => l.split(',')[1] === alertState) &&
    (!alertId || alertLines.some((l) => l.startsWith(`${alertId},`) && l.includes(',duty-room,'))),
  `the alerts export follows the state filter (${alertState}) and holds the acknowledged alert, with who acknowledged`,
  alertLines.slice(2).join(' | '));
  const riskCsv = await page.evaluate(async () => {
    const r = await fetch(document.getElementById('export-risk').href, { credentials: 'same-origin' });
    return r.text();
  });
  check(riskCsv.split('\r\n')[1]?.startsWith('#meta+type,#loc+id,#loc+name,#adm+path,') && riskCsv.includes('\r\nstation,S4,'),
    'the risk CSV export has its HXL row and the stations', riskCsv.split('\r\n').slice(0, 3).join(' | '));
  await page.select('#alert-state', '');

  // 8. No token ever in a URL.
  check(!urls.some((u) => u.includes(duty) || /token=/.test(u)), 'no URL the page requested carries a token');

  // 9. A liaison sees only its area.
  const liaisonPage = await browser.newPage();
  await liaisonPage.goto(`${base}/signin.html`);
  await liaisonPage.type('#token', liaison);
  await Promise.all([liaisonPage.waitForNavigation(), liaisonPage.click('button[type=submit]')]);
  await liaisonPage.waitForSelector('body[data-ready="1"]', { timeout: 20000 });
  const liaisonAreas = await liaisonPage.$$eval('path.area', (ps) => ps.map((p) => p.getAttribute('class')));
  check(!liaisonAreas.some((c) => c.includes('area-LAGOS-EPE')), "a liaison's map holds no other district", liaisonAreas.join(' '));
  const liaisonExports = await liaisonPage.evaluate(async () => {
    const get = async (id) => (await fetch(document.getElementById(id).href, { credentials: 'same-origin' })).text();
    return { alerts: await get('export-alerts'), risk: await get('export-risk') };
  });
  const foreign = (csv) => csv.split('\r\n').slice(2).filter((l) => l && !l.includes('LAGOS/IKEJA'));
  check(foreign(liaisonExports.alerts).length === 0 && foreign(liaisonExports.risk).filter((l) => !l.startsWith('area,LAGOS,')).length === 0,
    "a liaison's alert and risk exports hold only its area",
    [...foreign(liaisonExports.alerts), ...foreign(liaisonExports.risk)].join(' | '));
  await liaisonPage.close();

  // 10. Sign out, and a forged session: both get the sign-in page.
  await page.click('#signout');
  await page.waitForFunction(() => location.pathname === '/signin.html', { timeout: 10000 });
  check(!(await page.cookies()).some((c) => c.name === 'ewarn_session' && c.value), 'signing out clears the session');
  await page.setCookie({ name: 'ewarn_session', value: 'forged-or-expired', url: base });
  await page.goto(`${base}/`);
  await page.waitForFunction(() => location.pathname === '/signin.html', { timeout: 10000 });
  check(true, 'a bad session gets the sign-in page, not a broken map');
  // 401s are the sign-in checks this journey provokes on purpose.
  check(consoleErrors.filter((e) => !e.includes('status of 401') && !e.startsWith('401 /v1/session')).length === 0, 'no script errors (CSP included)', consoleErrors.join(' | '));
} finally {
  await browser.close();
  serve.kill('SIGINT');
  await new Promise((r) => serve.on('exit', r));
}

// The acknowledgement and the reviews are events in the log.
const dump = run('log', 'dump', '--data', data, '--topic', 'in.events', '--limit', '10000000');
const records = dump.split('\n');
check(records.some((l) => l.includes('"ack"') && l.includes('patrol sent') && l.includes('"principal":"duty-room"')),
  'the acknowledgement is in in.events, by the signed-in officer');
check(records.filter((l) => l.includes('"review"') && l.includes('REVIEW_STATUS_FALSE') &&
  l.includes('"reviewer":"duty-room"')).length === 3, 'the three review decisions are in in.events');
fs.rmSync(dir, { recursive: true, force: true });
console.log(`screenshots in ${out}`);
if (failures) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
console.log('all duty-room journeys passed');
