// The risk map: Leaflet on its default Web Mercator projection with no tile layer (no network),
// area boundaries from /v1/areas shaded by risk (regions, districts or wards by zoom), and
// stations clustered and coloured by their worst level. `L` is Leaflet's global from
// /vendor/leaflet/leaflet.js (Debian's libjs-leaflet).
import { el } from './dom.js';
import { t } from './i18n.js';

export const LEVELS = ['low', 'elevated', 'high', 'critical'];
const COLORS = { low: '#9aa5ad', elevated: '#e6b800', high: '#e0620d', critical: '#c4001a' };
const rank = (level) => Math.max(0, LEVELS.indexOf(level));

// Which level of areas is drawn at a zoom: regions at the zoom that shows the whole country
// (`home`), districts from two steps closer, wards from four.
export function areaLevelForZoom(zoom, home) {
  if (zoom < home + 2) return 'region';
  if (zoom < home + 4) return 'district';
  return 'ward';
}

export class RiskMap {
  constructor(container, { onSelect }) {
    this.onSelect = onSelect;
    this.map = L.map(container, { preferCanvas: false, zoomSnap: 0.5, minZoom: 3, maxZoom: 17 });
    this.map.attributionControl.setPrefix(false);
    this.map.attributionControl.addAttribution('Boundaries: ref.areas');
    this.areaRisk = new Map();        // area path -> {level, score}
    this.stationLevel = new Map();    // station id -> level
    this.changed = new Set();         // area paths and station ids changed since the last look
    this.areaLayers = {};             // level -> L.GeoJSON
    this.areaData = {};               // level -> GeoJSON
    this.markers = new Map();         // station id -> L.Marker
    this.clusters = L.markerClusterGroup({
      chunkedLoading: true,  // a country's stations are added in slices, the page stays responsive
      showCoverageOnHover: false,
      maxClusterRadius: 50,
      iconCreateFunction: (cluster) => this.clusterIcon(cluster),
    });
    this.map.addLayer(this.clusters);
    this.addLegend();
    this.map.on('zoomend', () => this.showAreasForZoom());
    this.map.setView([0, 20], 4);
  }

  addLegend() {
    const legend = L.control({ position: 'bottomleft' });
    legend.onAdd = () => {
      const box = el('div', { class: 'legend', 'data-testid': 'legend' }, el('strong', {}, t('legend.title')), el('br'));
      for (const level of [...LEVELS].reverse()) {
        box.append(el('span', { class: `swatch swatch-${level}` }), t(`level.${level}`), el('br'));
      }
      box.append(el('span', { class: 'swatch swatch-none' }), t('legend.none'), el('br'));
      box.append(el('span', { class: 'swatch dot swatch-low' }), t('legend.stations'));
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    legend.addTo(this.map);
  }

  // Boundaries of one level (GeoJSON FeatureCollection from /v1/areas).
  setAreas(level, geojson) {
    this.areaData[level] = geojson;
    if (this.areaLayers[level]) this.areaLayers[level].remove();
    this.areaLayers[level] = L.geoJSON(geojson, {
      style: (feature) => this.areaStyle(feature.properties.area),
      onEachFeature: (feature, layer) => {
        const p = feature.properties;
        layer.on('click', () => this.onSelect({ kind: 'area', id: p.area }));
        layer.bindTooltip(() => this.areaTooltip(p), { sticky: true });
      },
    });
  }

  areaTooltip(p) {
    const risk = this.areaRisk.get(p.area);
    return el('div', {}, el('strong', {}, p.name || p.area), el('br'), p.area, el('br'),
      risk ? `${t(`level.${risk.level}`)} · ${risk.score}` : t('legend.none'),
      p.derived ? el('div', { class: 'meta' }, '(extent of its stations)') : null);
  }

  areaStyle(area) {
    const risk = this.areaRisk.get(area);
    const changed = this.changed.has(area);
    return {
      className: `area area-${area.replace(/[^A-Za-z0-9]+/g, '-')}`,
      color: changed ? '#1d2327' : '#55626b',
      weight: changed ? 3 : 1,
      dashArray: changed ? '6 4' : null,
      fillColor: risk ? COLORS[risk.level] : '#f3f5f6',
      fillOpacity: risk ? (risk.level === 'low' ? 0.35 : 0.6) : 0.5,
    };
  }

  showAreasForZoom() {
    const wanted = areaLevelForZoom(this.map.getZoom(), this.homeZoom ?? this.map.getZoom());
    // Where a level has no boundaries, the nearest coarser one that has.
    const order = ['ward', 'district', 'region'];
    let level = wanted;
    for (let i = order.indexOf(wanted); i < order.length; ++i) {
      if (this.areaData[order[i]]?.features?.length) { level = order[i]; break; }
    }
    for (const [name, layer] of Object.entries(this.areaLayers)) {
      if (name === level) { if (!this.map.hasLayer(layer)) layer.addTo(this.map); layer.bringToBack(); }
      else layer.remove();
    }
    this.shownLevel = level;
    this.container().dataset.areaLevel = level;
  }

  container() { return this.map.getContainer(); }

  // Fits the country (its boundaries, else its stations: rows as for setStations) and takes
  // that zoom as the regions' zoom.
  fit(rows = []) {
    const bounds = L.latLngBounds([]);
    for (const layer of Object.values(this.areaLayers)) {
      const b = layer.getBounds();
      if (b.isValid()) bounds.extend(b);
    }
    if (!bounds.isValid()) for (const r of rows) bounds.extend([r[3], r[4]]);
    if (bounds.isValid()) this.map.fitBounds(bounds, { padding: [10, 10], animate: false });
    this.homeZoom = this.map.getZoom();
    this.showAreasForZoom();
  }

  // rows: [[id, name, ward path, lat, lon], ...] from /v1/stations.
  setStations(rows) {
    this.clusters.clearLayers();
    this.markers.clear();
    const markers = [];
    for (const [id, name, area, lat, lon] of rows) {
      const marker = L.marker([lat, lon], { icon: this.stationIcon(id), keyboard: false });
      marker.stationId = id;
      marker.stationName = name;
      marker.area = area;
      marker.on('click', () => this.onSelect({ kind: 'station', id }));
      marker.bindTooltip(() => el('div', {}, el('strong', {}, name), el('br'), id, el('br'), area, el('br'),
        t(`level.${this.stationLevel.get(id) || 'low'}`)));
      this.markers.set(id, marker);
      markers.push(marker);
    }
    this.clusters.addLayers(markers);
  }

  stationIcon(id) {
    const level = this.stationLevel.get(id) || 'low';
    const size = level === 'low' ? 10 : 14;
    const changed = this.changed.has(id) ? ' changed' : '';
    return L.divIcon({ className: `station-dot station-${level}${changed}`, iconSize: [size, size], html: '' });
  }

  clusterIcon(cluster) {
    let worst = 0;
    for (const m of cluster.getAllChildMarkers()) worst = Math.max(worst, rank(this.stationLevel.get(m.stationId)));
    const count = cluster.getChildCount();
    const size = count < 10 ? 28 : count < 100 ? 34 : count < 1000 ? 40 : 48;
    return L.divIcon({ html: el('span', {}, String(count)), className: `cluster cluster-${LEVELS[worst]}`,
      iconSize: [size, size] });
  }

  // Risk of areas: [{id, level, score}] (area paths as ids).
  setAreaRisk(list) {
    this.areaRisk.clear();
    for (const a of list) this.areaRisk.set(a.id, { level: a.level, score: a.score });
    this.restyleAreas();
  }

  updateArea(id, level, score) {
    this.areaRisk.set(id, { level, score });
    this.restyleAreas();
  }

  restyleAreas() {
    for (const layer of Object.values(this.areaLayers)) {
      layer.eachLayer((l) => l.setStyle(this.areaStyle(l.feature.properties.area)));
    }
  }

  setStationLevels(levels) {
    this.stationLevel = new Map(levels);
    for (const [id, marker] of this.markers) marker.setIcon(this.stationIcon(id));
    this.clusters.refreshClusters();
  }

  updateStation(id, level) {
    this.stationLevel.set(id, level);
    const marker = this.markers.get(id);
    if (marker) {
      marker.setIcon(this.stationIcon(id));
      this.clusters.refreshClusters(marker);
    }
  }

  markChanged(id) {
    this.changed.add(id);
  }

  clearChanged() {
    this.changed.clear();
    this.restyleAreas();
    for (const [id, marker] of this.markers) marker.setIcon(this.stationIcon(id));
  }

  areaColor(area) {
    return this.areaStyle(area).fillColor;
  }

  focusStation(id) {
    const marker = this.markers.get(id);
    if (!marker) return false;
    this.clusters.zoomToShowLayer(marker, () => marker.openTooltip());
    return true;
  }

  focusArea(area) {
    for (const layer of Object.values(this.areaLayers)) {
      let found = null;
      layer.eachLayer((l) => { if (l.feature.properties.area === area) found = l; });
      if (found) { this.map.fitBounds(found.getBounds()); return true; }
    }
    return false;
  }

  // Stations matching a search text (id prefix or name part), at most `limit`.
  findStations(text, limit = 10) {
    const q = text.trim().toUpperCase();
    const out = [];
    if (!q) return out;
    for (const m of this.markers.values()) {
      if (m.stationId.toUpperCase() === q || m.stationId.toUpperCase().startsWith(q) ||
          m.stationName.toUpperCase().includes(q)) {
        out.push({ id: m.stationId, name: m.stationName, area: m.area });
        if (out.length >= limit) break;
      }
    }
    return out;
  }
}
