// The alerts panel: open, acknowledged, escalated and resolved alerts with level, area,
// recipients, deadline and time since raised; acknowledge and silence (the API's rules decide:
// a liaison acts only in its area), and each alert's history.
import { api } from './api.js';
import { el, levelBadge, since } from './dom.js';
import { t } from './i18n.js';

export class AlertsPanel {
  // `exports`: the CSV and GeoJSON links, kept on the panel's filters.
  constructor(list, stateSelect, exports, { isNew, onStatus }) {
    this.list = list;
    this.exports = exports;
    this.stateSelect = stateSelect;
    this.isNew = isNew;
    this.onStatus = onStatus;
    stateSelect.addEventListener('change', () => this.refresh());
  }

  async refresh() {
    const state = this.stateSelect.value;
    const q = state ? `state=${encodeURIComponent(state)}` : '';
    this.exports.csv.href = `/v1/alerts?format=csv${q ? `&${q}` : ''}`;
    this.exports.geojson.href = `/v1/alerts?format=geojson${q ? `&${q}` : ''}`;
    const r = await api(`/v1/alerts${q ? `?${q}` : ''}`);
    const items = r.alerts.slice(0, 200).map((a) => this.item(a));
    this.list.replaceChildren(...(items.length ? items : [el('li', { class: 'hint' }, t('alerts.none'))]));
    return r.alerts;
  }

  item(a) {
    const fresh = this.isNew(a.updated_at);
    const li = el('li', { 'data-alert': a.alert_id, 'data-state': a.state, class: fresh ? 'changed' : '' },
      el('div', {}, levelBadge(a.level, t(`level.${a.level.toLowerCase()}`)),
        el('span', { class: `state state-${a.state}` }, a.tier > 1 ? `${a.state} · tier ${a.tier}` : a.state),
        fresh ? el('span', { class: 'badge' }, t('new')) : null),
      el('div', {}, el('strong', {}, a.area), ' ', a.summary),
      el('div', { class: 'meta' },
        `${t('alerts.raised')} ${since(a.raised_at)} ${t('alerts.ago')}`,
        a.ack_deadline && a.state === 'open' ? ` · ${t('alerts.deadline')} ${new Date(a.ack_deadline).toLocaleTimeString()}` : '',
        a.recipient_ids.length ? ` · ${t('alerts.recipients')}: ${a.recipient_ids.join(', ')}` : '',
        a.acked_by ? ` · ✔ ${a.acked_by}${a.ack_note ? ` “${a.ack_note}”` : ''}` : '',
        a.silenced ? ' · silenced' : ''));
    const actions = el('div', { class: 'actions' });
    if (a.state === 'open') {
      const note = el('input', { type: 'text', placeholder: t('alerts.note'), 'aria-label': t('alerts.note') });
      actions.append(note, el('button', { type: 'button', class: 'ack', onclick: () => this.ack(a, note.value) },
        t('alerts.ack')));
    }
    actions.append(el('button', { type: 'button', class: 'silence', onclick: () => this.silence(a) }, t('alerts.silence')));
    const history = el('ul', { class: 'history' });
    actions.append(el('button', { type: 'button', class: 'show-history', onclick: () => this.history(a, history) },
      t('alerts.history')));
    li.append(actions, history);
    return li;
  }

  async ack(a, note) {
    try {
      await api(`/v1/alerts/${encodeURIComponent(a.alert_id)}/ack`, { method: 'POST', body: { note } });
      this.onStatus(`${a.alert_id}: acknowledged`);
    } catch (e) {
      this.onStatus(`${a.alert_id}: ${e.message}`);
    }
    setTimeout(() => this.refresh(), 1500);
  }

  async silence(a) {
    const until = new Date(Date.now() + 3600 * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    try {
      const r = await api('/v1/silences', { method: 'POST',
        body: { area: a.area, category: a.category, until, note: `from the duty room, alert ${a.alert_id}` } });
      this.onStatus(`${a.area}: silenced until ${until} (${r.silence_id})`);
    } catch (e) {
      this.onStatus(`${a.area}: ${e.message}`);
    }
  }

  async history(a, into) {
    try {
      const r = await api(`/v1/alerts/${encodeURIComponent(a.alert_id)}/history`);
      into.replaceChildren(...r.history.map((h) => el('li', {},
        `${h.time} ${h.kind} ${h.level} tier ${h.tier}`,
        h.recipient_ids?.length ? ` → ${h.recipient_ids.join(', ')}` : '',
        h.actor ? ` by ${h.actor}` : '', h.note ? ` “${h.note}”` : '')));
    } catch (e) {
      into.replaceChildren(el('li', { class: 'error' }, e.message));
    }
  }
}
