// The duty room: signs in by session cookie (api.js), draws the map (map.js), and keeps it
// live from the node's Server-Sent Events (GET /v1/events).
import { api, toSignIn } from './api.js';
import { AlertsPanel } from './alerts.js';
import { AssessmentPanel } from './assessment.js';
import { el, levelBadge } from './dom.js';
import { language, setLanguage, t, translatePage } from './i18n.js';
import { RiskMap } from './map.js';
import { TriagePanel } from './triage.js';

const status = (text) => { document.getElementById('status').textContent = text; };
// What the officer last looked at: changes after it are marked until "Mark all seen".
const lastLook = Number(localStorage.getItem('ewarn-last-look') || 0);
let seenAt = lastLook || Date.now();
const isNew = (iso) => iso && Date.parse(iso) > seenAt;

function selectTab(name) {
  for (const b of document.querySelectorAll('.tabs button')) b.classList.toggle('active', b.dataset.tab === name);
  for (const s of document.querySelectorAll('.tab')) s.classList.toggle('active', s.id === `tab-${name}`);
}

async function main() {
  translatePage();
  const lang = document.getElementById('lang');
  lang.value = language();
  lang.addEventListener('change', () => { setLanguage(lang.value); location.reload(); });

  let me;
  try {
    me = await api('/v1/session');
  } catch {
    return;  // api() went to the sign-in page
  }
  document.getElementById('who').textContent = `${me.name} (${me.role}${me.area ? `, ${me.area}` : ''})`;
  document.getElementById('signout').addEventListener('click', async () => {
    await fetch('/v1/session', { method: 'DELETE', credentials: 'same-origin' });
    toSignIn(false);
  });
  for (const b of document.querySelectorAll('.tabs button')) b.addEventListener('click', () => selectTab(b.dataset.tab));

  const assessment = new AssessmentPanel(document.getElementById('assessment'), {
    onReview: () => selectTab('triage'),
  });
  const map = new RiskMap(document.getElementById('map'), {
    onSelect: ({ kind, id }) => {
      selectTab('assessment');
      (kind === 'station' ? assessment.showStation(id) : assessment.showArea(id)).catch((e) => status(e.message));
    },
  });
  const exportLinks = (name) => ({
    csv: document.getElementById(`export-${name}`), geojson: document.getElementById(`export-${name}-geojson`),
  });
  const alerts = new AlertsPanel(document.getElementById('alerts'), document.getElementById('alert-state'),
    exportLinks('alerts'), { isNew, onStatus: status });
  const triage = new TriagePanel(document.getElementById('reports'), document.getElementById('triage-status'),
    exportLinks('reports'),
    { me: () => me.name, isNew, onStatus: status, onChanged: () => refreshRisk() });

  const [regions, districts, wards, stations] = await Promise.all([
    api('/v1/areas?level=region'), api('/v1/areas?level=district'), api('/v1/areas?level=ward'), api('/v1/stations'),
  ]);
  map.setAreas('region', regions);
  map.setAreas('district', districts);
  map.setAreas('ward', wards);
  map.fit(stations.stations);
  map.setStations(stations.stations);

  async function refreshRisk() {
    const [risk, points] = await Promise.all([api('/v1/risk'), api('/v1/risk?format=geojson')]);
    map.setAreaRisk(risk.areas);
    map.setStationLevels(points.features.map((f) => [f.properties.id, f.properties.level]));
    const atRisk = document.getElementById('areas-at-risk');
    const rows = risk.areas.filter((a) => a.level !== 'low').slice(0, 100).map((a) =>
      el('li', { class: map.changed.has(a.id) ? 'changed' : '' }, levelBadge(a.level, t(`level.${a.level}`)), ' ',
        el('a', { href: '#', onclick: (e) => { e.preventDefault(); map.focusArea(a.id); assessment.showArea(a.id); } }, a.id),
        ` ${a.score}`, a.factors[0] ? el('div', { class: 'meta' }, a.factors[0].explanation) : null));
    atRisk.replaceChildren(...rows);
    document.body.dataset.riskLoadedAt = String(Date.now());
  }
  await Promise.all([refreshRisk(), alerts.refresh(), triage.refresh().catch(() => {})]);
  status(`${stations.stations.length} stations, ${regions.features.length + districts.features.length + wards.features.length} ${t('status.loaded')}`);
  document.body.dataset.ready = '1';

  document.getElementById('mark-seen').addEventListener('click', () => {
    seenAt = Date.now();
    localStorage.setItem('ewarn-last-look', String(seenAt));
    map.clearChanged();
    alerts.refresh();
    triage.refresh().catch(() => {});
    refreshRisk();
  });

  setupSearch(map, assessment);
  live(map, alerts, triage, refreshRisk);
}

function setupSearch(map, assessment) {
  const input = document.getElementById('search');
  const hints = document.getElementById('search-hints');
  input.addEventListener('input', () => {
    hints.replaceChildren(...map.findStations(input.value).map((s) => el('option', { value: s.id }, `${s.name} · ${s.area}`)));
  });
  document.getElementById('search-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const q = input.value.trim();
    if (!q) return;
    selectTab('assessment');
    const found = map.findStations(q, 1)[0];
    if (found) {
      map.focusStation(found.id);
      assessment.showStation(found.id).catch((e) => status(e.message));
      return;
    }
    if (map.focusArea(q.toUpperCase())) {
      assessment.showArea(q.toUpperCase()).catch((e) => status(e.message));
      return;
    }
    try {  // a report reference or event id
      const r = await api(`/v1/reports/${encodeURIComponent(q)}`);
      map.focusStation(r.station_id);
      await assessment.showStation(r.station_id);
    } catch {
      status(`${t('search.none')} “${q}”`);
    }
  });
}

// Server-Sent Events: each answer carries the batches since the last one seen; EventSource
// reconnects with Last-Event-ID, so nothing is missed between answers.
function live(map, alerts, triage, refreshRisk) {
  const badge = document.getElementById('live');
  const source = new EventSource('/v1/events');
  let pending = null;
  const refreshSoon = () => {
    if (pending) return;
    pending = setTimeout(() => { pending = null; refreshRisk(); alerts.refresh(); triage.refresh().catch(() => {}); }, 150);
  };
  source.addEventListener('open', () => { badge.textContent = t('live.on'); badge.className = 'live on'; });
  source.addEventListener('changes', (event) => {
    const { changes } = JSON.parse(event.data);
    for (const { kind, change } of changes) {
      if (kind === 'risk') {
        map.markChanged(change.id);
        if (change.is_area) map.updateArea(change.id, change.level, change.score);
        else map.updateStation(change.id, change.level);
      }
    }
    if (changes.length) {
      document.body.dataset.lastChange = String(Date.now());
      refreshSoon();
    }
  });
  source.addEventListener('reset', refreshSoon);
  source.addEventListener('error', async () => {
    if (source.readyState === EventSource.CLOSED) {  // refused (401): the session ended
      badge.textContent = t('live.off');
      badge.className = 'live off';
      try { await api('/v1/session'); setTimeout(() => live(map, alerts, triage, refreshRisk), 2000); } catch { /* signing in */ }
    }
  });
}

main().catch((e) => status(`error: ${e.message}`));
