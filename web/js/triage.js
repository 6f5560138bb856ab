// The triage queue: incoming reports with their review status; each decision is
// POST /v1/reports/{event_id}/review, an event in the log. A report being worked on is locked
// to its officer (another officer's decision is refused 409 until the lock ends).
import { api } from './api.js';
import { el } from './dom.js';
import { t } from './i18n.js';

const DECISIONS = ['verified', 'false', 'duplicate', 'needs follow-up'];

export class TriagePanel {
  // `exports`: the CSV and GeoJSON links, kept on the panel's filters.
  constructor(list, statusSelect, exports, { me, isNew, onStatus, onChanged }) {
    this.list = list;
    this.statusSelect = statusSelect;
    this.exports = exports;
    this.me = me;
    this.isNew = isNew;
    this.onStatus = onStatus;
    this.onChanged = onChanged;
    statusSelect.addEventListener('change', () => this.refresh());
  }

  query() {
    const status = this.statusSelect.value;
    return status ? `status=${encodeURIComponent(status)}` : '';
  }

  async refresh() {
    const q = this.query();
    this.exports.csv.href = `/v1/reports?format=csv${q ? `&${q}` : ''}`;
    this.exports.geojson.href = `/v1/reports?format=geojson${q ? `&${q}` : ''}`;
    const r = await api(`/v1/reports${q ? `?${q}` : ''}`);
    const items = r.reports.slice(0, 300).map((x) => this.item(x));
    this.list.replaceChildren(...(items.length ? items : [el('li', { class: 'hint' }, t('triage.none'))]));
  }

  item(r) {
    const li = el('li', { 'data-report': r.event_id, 'data-status': r.status, class: this.isNew(r.received_at) ? 'changed' : '' },
      el('div', {}, el('strong', {}, r.category || r.kind), el('span', { class: 'state' }, r.status),
        r.assignee ? el('span', { class: 'meta' }, ` → ${r.assignee}`) : null,
        r.locked_by ? el('span', { class: 'meta' }, ` 🔒 ${t('triage.locked')} ${r.locked_by}`) : null),
      el('div', { class: 'report-text' }, r.text || ''),
      el('div', { class: 'meta' }, `${r.reference} · ${r.station_id} · ${r.area} · ${r.source} · ${r.occurred_at}`));
    const note = el('input', { type: 'text', placeholder: t('alerts.note'), 'aria-label': t('alerts.note') });
    const actions = el('div', { class: 'actions' }, note);
    for (const status of DECISIONS) {
      actions.append(el('button', { type: 'button', 'data-decision': status,
        onclick: () => this.review(r, { status, note: note.value }) }, status));
    }
    actions.append(el('button', { type: 'button', class: 'assign',
      onclick: () => this.review(r, { status: r.status, assignee: this.me(), lock: true, note: note.value }) },
    t('triage.assign')));
    const audit = el('ul', { class: 'history' }, ...(r.reviews || []).map((v) => el('li', {},
      `${v.time} ${v.reviewer}: ${v.status}`, v.assignee ? ` → ${v.assignee}` : '', v.note ? ` “${v.note}”` : '')));
    li.append(actions, audit);
    return li;
  }

  async review(r, body) {
    try {
      await api(`/v1/reports/${encodeURIComponent(r.event_id)}/review`, { method: 'POST', body });
      this.onStatus(`${r.reference}: ${body.status}`);
    } catch (e) {
      this.onStatus(`${r.reference}: ${e.message}`);
    }
    setTimeout(() => { this.refresh(); this.onChanged(); }, 800);
  }
}
