// Interface languages: English, French and Russian, as the SMS channel has. The choice is kept
// in localStorage ('ewarn-lang'); data (names, report texts, explanations) is shown as it came.
const strings = {
  en: {
    'app.title': 'ewarn duty room', 'signin.title': 'ewarn duty room',
    'signin.intro': 'Sign in with your duty, operator or liaison token. The token is exchanged for a session cookie and is not kept by this page.',
    'signin.token': 'Token', 'signin.submit': 'Sign in', 'signin.failed': 'Sign-in failed',
    'signin.expired': 'Your session has ended; sign in again.',
    'search.placeholder': 'Station id, name or report reference', 'search.go': 'Find',
    'search.none': 'Nothing found for', 'live.connecting': 'connecting…', 'live.on': 'live', 'live.off': 'reconnecting',
    'seen.mark': 'Mark all seen', 'signout': 'Sign out',
    'tab.assessment': 'Assessment', 'tab.alerts': 'Alerts', 'tab.triage': 'Triage', 'tab.areas': 'Areas at risk',
    'assessment.hint': 'Click an area or a station on the map, or search for one.',
    'assessment.score': 'score', 'assessment.factors': 'Why', 'assessment.none': 'Nothing has been reported here.',
    'assessment.reports': 'Reports', 'assessment.station': 'Station', 'assessment.area': 'Area',
    'alerts.state': 'State', 'alerts.all': 'all', 'alerts.open': 'open', 'alerts.acknowledged': 'acknowledged',
    'alerts.resolved': 'resolved', 'alerts.ack': 'Acknowledge', 'alerts.silence': 'Silence 1 h',
    'alerts.history': 'History', 'alerts.none': 'No alerts.', 'alerts.recipients': 'recipients',
    'alerts.deadline': 'ack by', 'alerts.raised': 'raised', 'alerts.ago': 'ago', 'alerts.note': 'Note (optional)',
    'triage.status': 'Status', 'triage.all': 'all', 'triage.none': 'No reports.', 'triage.assign': 'Assign to me',
    'triage.audit': 'Audit trail', 'triage.locked': 'locked by', 'export.csv': 'Export CSV', 'export.geojson': 'GeoJSON',
    'legend.title': 'Risk', 'legend.none': 'no assessment', 'legend.stations': 'stations',
    'level.low': 'low', 'level.elevated': 'elevated', 'level.high': 'high', 'level.critical': 'critical',
    'status.loaded': 'areas and stations loaded', 'new': 'new',
  },
  fr: {
    'app.title': 'ewarn salle de veille', 'signin.title': 'ewarn salle de veille',
    'signin.intro': 'Connectez-vous avec votre jeton de veille, d’opérateur ou de liaison. Le jeton est échangé contre un cookie de session et cette page ne le garde pas.',
    'signin.token': 'Jeton', 'signin.submit': 'Se connecter', 'signin.failed': 'Échec de la connexion',
    'signin.expired': 'Votre session est terminée ; reconnectez-vous.',
    'search.placeholder': 'Bureau (id ou nom) ou référence de rapport', 'search.go': 'Chercher',
    'search.none': 'Rien trouvé pour', 'live.connecting': 'connexion…', 'live.on': 'en direct', 'live.off': 'reconnexion',
    'seen.mark': 'Tout marquer vu', 'signout': 'Se déconnecter',
    'tab.assessment': 'Évaluation', 'tab.alerts': 'Alertes', 'tab.triage': 'Tri', 'tab.areas': 'Zones à risque',
    'assessment.hint': 'Cliquez sur une zone ou un bureau de vote, ou cherchez-le.',
    'assessment.score': 'score', 'assessment.factors': 'Pourquoi', 'assessment.none': 'Rien n’a été signalé ici.',
    'assessment.reports': 'Rapports', 'assessment.station': 'Bureau', 'assessment.area': 'Zone',
    'alerts.state': 'État', 'alerts.all': 'toutes', 'alerts.open': 'ouvertes', 'alerts.acknowledged': 'prises en compte',
    'alerts.resolved': 'résolues', 'alerts.ack': 'Prendre en compte', 'alerts.silence': 'Silence 1 h',
    'alerts.history': 'Historique', 'alerts.none': 'Aucune alerte.', 'alerts.recipients': 'destinataires',
    'alerts.deadline': 'à prendre avant', 'alerts.raised': 'levée', 'alerts.ago': '', 'alerts.note': 'Note (facultative)',
    'triage.status': 'Statut', 'triage.all': 'tous', 'triage.none': 'Aucun rapport.', 'triage.assign': 'Me l’attribuer',
    'triage.audit': 'Journal', 'triage.locked': 'verrouillé par', 'export.csv': 'Exporter CSV', 'export.geojson': 'GeoJSON',
    'legend.title': 'Risque', 'legend.none': 'pas d’évaluation', 'legend.stations': 'bureaux',
    'level.low': 'faible', 'level.elevated': 'accru', 'level.high': 'élevé', 'level.critical': 'critique',
    'status.loaded': 'zones et bureaux chargés', 'new': 'nouveau',
  },
  ru: {
    'app.title': 'ewarn дежурная часть', 'signin.title': 'ewarn дежурная часть',
    'signin.intro': 'Войдите с токеном дежурного, оператора или связного. Токен обменивается на cookie сеанса и не хранится на этой странице.',
    'signin.token': 'Токен', 'signin.submit': 'Войти', 'signin.failed': 'Не удалось войти',
    'signin.expired': 'Сеанс завершён; войдите снова.',
    'search.placeholder': 'Участок (код или название) или номер сообщения', 'search.go': 'Найти',
    'search.none': 'Ничего не найдено:', 'live.connecting': 'подключение…', 'live.on': 'в эфире', 'live.off': 'переподключение',
    'seen.mark': 'Отметить всё просмотренным', 'signout': 'Выйти',
    'tab.assessment': 'Оценка', 'tab.alerts': 'Тревоги', 'tab.triage': 'Разбор', 'tab.areas': 'Зоны риска',
    'assessment.hint': 'Нажмите на район или участок на карте либо найдите его.',
    'assessment.score': 'балл', 'assessment.factors': 'Почему', 'assessment.none': 'Здесь ничего не сообщалось.',
    'assessment.reports': 'Сообщения', 'assessment.station': 'Участок', 'assessment.area': 'Район',
    'alerts.state': 'Состояние', 'alerts.all': 'все', 'alerts.open': 'открытые', 'alerts.acknowledged': 'принятые',
    'alerts.resolved': 'закрытые', 'alerts.ack': 'Принять', 'alerts.silence': 'Тишина 1 ч',
    'alerts.history': 'История', 'alerts.none': 'Тревог нет.', 'alerts.recipients': 'получатели',
    'alerts.deadline': 'принять до', 'alerts.raised': 'поднята', 'alerts.ago': 'назад', 'alerts.note': 'Примечание',
    'triage.status': 'Статус', 'triage.all': 'все', 'triage.none': 'Сообщений нет.', 'triage.assign': 'Взять себе',
    'triage.audit': 'Журнал', 'triage.locked': 'заблокировано:', 'export.csv': 'Экспорт CSV', 'export.geojson': 'GeoJSON',
    'legend.title': 'Риск', 'legend.none': 'нет оценки', 'legend.stations': 'участки',
    'level.low': 'низкий', 'level.elevated': 'повышенный', 'level.high': 'высокий', 'level.critical': 'критический',
    'status.loaded': 'районы и участки загружены', 'new': 'новое',
  },
};

export function language() {
  const chosen = localStorage.getItem('ewarn-lang');
  if (chosen && strings[chosen]) return chosen;
  const browser = (navigator.language || 'en').slice(0, 2);
  return strings[browser] ? browser : 'en';
}

export function setLanguage(lang) {
  if (strings[lang]) localStorage.setItem('ewarn-lang', lang);
}

export function t(key) {
  return strings[language()][key] ?? strings.en[key] ?? key;
}

// Fills every element marked data-i18n (text) or data-i18n-placeholder.
export function translatePage(root = document) {
  document.documentElement.lang = language();
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
}
