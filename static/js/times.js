// Times in the trader's own time zone. The server writes UTC into
// <time datetime="2026-12-03T13:05:00Z" data-format="datetime|date|time|clock">3 Dec 2026, 13:05 UTC</time>;
// this rewrites the text in the browser's zone, named ("3 Dec 2026, 14:05 CET"), and keeps the
// UTC text in a tooltip. Runs on load and after every htmx swap.
const OPTIONS = {
  datetime: { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' },
  date: { day: 'numeric', month: 'short', year: 'numeric' },
  time: { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' },
  clock: { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' },
};
const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;

// The zone's short name: "CET", "EST" — else "GMT+1"-style, which every browser can give.
function zoneName(date) {
  const names = ['en-US', 'en-GB'].map((locale) => new Intl.DateTimeFormat(locale, { timeZoneName: 'short', timeZone: ZONE })
    .formatToParts(date).find((p) => p.type === 'timeZoneName')?.value || '');
  return names.find((n) => /^[A-Z]{2,5}$/.test(n)) || names[0] || ZONE;
}

function words(date, format) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', { ...OPTIONS[format], timeZone: ZONE })
    .formatToParts(date).map((p) => [p.type, p.value]));
  const day = `${parts.day} ${parts.month} ${parts.year}`;
  if (format === 'date') return day;
  if (format === 'time') return `${parts.hour}:${parts.minute}:${parts.second} ${zoneName(date)}`;
  if (format === 'clock') return `${parts.hour}:${parts.minute} ${zoneName(date)}`;
  return `${day}, ${parts.hour}:${parts.minute} ${zoneName(date)}`;
}

export function localiseTimes(root = document) {
  for (const el of root.querySelectorAll('time[datetime][data-format]')) {
    if (el.dataset.local) continue;
    const date = new Date(el.dateTime);
    if (Number.isNaN(date.getTime()) || !OPTIONS[el.dataset.format]) continue;
    el.title = el.textContent; // the UTC text, for reference
    el.textContent = words(date, el.dataset.format);
    el.dataset.local = ZONE;
  }
}

localiseTimes();
document.body.addEventListener('htmx:afterSettle', (event) => localiseTimes(event.detail.target || document));
