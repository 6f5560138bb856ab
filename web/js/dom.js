// Building DOM from data without markup: text goes through textContent and attributes through
// setAttribute, never innerHTML, so a report text such as <img src=x onerror=...> stays text.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// The API spells levels "high" (risk) or "HIGH" (alerts): one class either way.
export function levelBadge(level, label) {
  return el('span', { class: `level level-${String(level).toLowerCase()}` }, label ?? level);
}

// "3 min", "2 h 05 min" since `iso` at `now`.
export function since(iso, now = Date.now()) {
  const ms = Math.max(0, now - Date.parse(iso));
  const min = Math.floor(ms / 60000);
  if (min < 60) return `${min} min`;
  return `${Math.floor(min / 60)} h ${String(min % 60).padStart(2, '0')} min`;
}
