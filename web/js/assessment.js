// The assessment panel: a station's or area's level, score, the factors with their
// explanations, and the reports behind them.
import { api } from './api.js';
import { el, levelBadge } from './dom.js';
import { t } from './i18n.js';

export class AssessmentPanel {
  constructor(container, { onReview }) {
    this.container = container;
    this.onReview = onReview;
  }

  async showStation(id) {
    const a = await api(`/v1/risk/stations/${encodeURIComponent(id)}`);
    this.render(t('assessment.station'), a);
  }

  async showArea(path) {
    const r = await api(`/v1/risk?area=${encodeURIComponent(path)}`);
    const a = r.areas.find((x) => x.id === path) ||
      { id: path, area: path, level: 'low', score: 0, factors: [] };
    this.render(t('assessment.area'), a, r.stations.slice(0, 20));
  }

  render(kind, a, stations = []) {
    const box = el('div', { 'data-testid': 'assessment', 'data-level': a.level, 'data-subject': a.id },
      el('h2', {}, `${kind}: ${a.name ? `${a.name} (${a.id})` : a.id}`),
      el('div', {}, levelBadge(a.level, t(`level.${a.level}`)), ` ${t('assessment.score')} ${a.score}`),
      el('div', { class: 'meta' }, a.area));
    if (!a.factors.length) box.append(el('p', { class: 'hint' }, t('assessment.none')));
    else box.append(el('h3', {}, t('assessment.factors')));
    for (const f of a.factors) {
      const factor = el('div', { class: 'factor' },
        el('div', {}, el('strong', {}, f.detector), ` +${f.contribution}`),
        el('div', {}, f.explanation));
      if (f.event_ids?.length) {
        const list = el('ul', { class: 'list reports-behind' });
        for (const id of f.event_ids.slice(0, 20)) list.append(this.reportItem(id));
        factor.append(el('div', { class: 'meta' }, t('assessment.reports')), list);
      }
      box.append(factor);
    }
    if (stations.length) {
      box.append(el('h3', {}, t('tab.areas')));
      const list = el('ul', { class: 'list' });
      for (const s of stations) {
        list.append(el('li', {}, levelBadge(s.level, t(`level.${s.level}`)), ' ',
          el('a', { href: '#', onclick: (e) => { e.preventDefault(); this.showStation(s.id); } },
            `${s.name || ''} ${s.id}`), ` ${s.score}`,
          s.factors[0] ? el('div', { class: 'meta' }, s.factors[0].explanation) : null));
      }
      box.append(list);
    }
    this.container.replaceChildren(box);
    this.container.parentElement.querySelector('.hint')?.remove();
  }

  // A report behind a factor: its text when the node knows it (GET /v1/reports/{id}).
  reportItem(id) {
    const li = el('li', { 'data-report': id }, el('span', { class: 'meta' }, id));
    api(`/v1/reports/${encodeURIComponent(id)}`).then((r) => {
      li.replaceChildren(
        el('div', {}, el('strong', {}, r.category || r.kind), ' ', el('span', { class: 'state' }, r.status),
          ' ', el('span', { class: 'meta' }, `${r.reference} · ${r.occurred_at}`)),
        el('div', { class: 'report-text' }, r.text || ''),
        el('div', { class: 'actions' }, el('button', { type: 'button', onclick: () => this.onReview(r) },
          t('tab.triage'))));
    }).catch(() => {});
    return li;
  }
}
