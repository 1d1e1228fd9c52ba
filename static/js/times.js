// Times in the trader's own time zone. The server writes UTC into <time datetime="…Z"
// data-format="datetime|date|time|clock">; this writes the browser's zone, named
// ("3 Dec 2026, 14:05 CET"), keeping the UTC text as a tooltip. On load and after each htmx swap.
const FORMATS = {
  datetime: { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' },
  date: { day: 'numeric', month: 'short', year: 'numeric' },
  time: { hour: '2-digit', minute: '2-digit', second: '2-digit' },
  clock: { hour: '2-digit', minute: '2-digit' },
};
const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;
const partsOf = (date, locale, options) => Object.fromEntries(new Intl.DateTimeFormat(locale, { timeZone: ZONE, ...options })
  .formatToParts(date).map((p) => [p.type, p.value]));

function zone(date) {
  const names = ['en-US', 'en-GB'].map((l) => partsOf(date, l, { timeZoneName: 'short' }).timeZoneName);
  return names.find((n) => /^[A-Z]{2,5}$/.test(n)) || names[0] || ZONE;
}

function words(date, format) {
  const p = partsOf(date, 'en-US', { ...FORMATS[format], hourCycle: 'h23' });
  const day = `${p.day} ${p.month} ${p.year}`;
  const clock = `${p.hour}:${p.minute}${format === 'time' ? `:${p.second}` : ''} ${zone(date)}`;
  return { date: day, datetime: `${day}, ${clock}` }[format] || clock;
}

export function localiseTimes(root = document) {
  for (const el of root.querySelectorAll('time[datetime][data-format]:not([data-local])')) {
    const date = new Date(el.dateTime);
    if (Number.isNaN(date.getTime()) || !FORMATS[el.dataset.format]) continue;
    el.title = el.textContent;
    el.textContent = words(date, el.dataset.format);
    el.dataset.local = ZONE;
  }
}

localiseTimes();
document.body.addEventListener('htmx:afterSettle', (event) => localiseTimes(event.detail.target || document));
