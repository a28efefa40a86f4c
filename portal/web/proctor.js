// The proctor page: every seat of the served labs, resets, and the attendee cards.
import { api, el, show, confirmAction, signOut, formatTime } from './common.js';

let labs = [];
let current = '';

function jobText(job) {
  if (!job) return '';
  if (job.state === 'queued' || job.state === 'running') return `resetting (${job.state})`;
  if (job.state === 'done') return 'reset done';
  return `reset failed: ${job.error || ''}`;
}

function render() {
  const select = document.getElementById('lab-select');
  select.replaceChildren(...labs.map((lab) => el('option', { value: lab.lab, text: lab.title ? `${lab.title} (${lab.lab})` : lab.lab })));
  if (!labs.some((lab) => lab.lab === current)) current = labs.length ? labs[0].lab : '';
  select.value = current;
  const lab = labs.find((l) => l.lab === current);
  const cards = document.getElementById('download-cards');
  cards.href = lab ? `/api/labs/${encodeURIComponent(lab.lab)}/cards?format=html` : '#';
  cards.setAttribute('download', lab ? `${lab.lab}-cards.html` : '');
  const body = document.querySelector('#seat-grid tbody');
  if (!lab) {
    body.replaceChildren();
    return;
  }
  body.replaceChildren(...lab.seats.map((seat) => {
    const busy = seat.reset && (seat.reset.state === 'queued' || seat.reset.state === 'running');
    const button = el('button', { type: 'button', class: 'reset-seat danger', text: 'Reset' });
    button.disabled = busy;
    button.addEventListener('click', () => resetSeat(lab.lab, seat.seat));
    const vms = el('td', { class: 'vms' }, ...seat.vms.map((vm) =>
      el('span', { class: `badge state-${vm.state.replace(/\s+/g, '-')}`, title: vm.ips || '', text: `${vm.name}: ${vm.state}` })));
    const failures = el('td', { class: seat.failures ? 'failures error' : 'failures', title: seat.last_failure || '',
                                text: seat.state === 'failed' ? `seat failed: ${seat.error}` : String(seat.failures) });
    return el('tr', { 'data-seat': String(seat.seat), 'data-lab': lab.lab },
      el('td', { text: String(seat.seat) }),
      el('td', { text: seat.attendee || '–', title: seat.email || '' }),
      vms,
      el('td', { text: formatTime(seat.last_reset) }),
      failures,
      el('td', {}, button, el('span', { class: 'job', text: ` ${jobText(seat.reset)}` })));
  }));
}

async function refresh() {
  try {
    labs = (await api('GET', '/api/labs')).labs;
    document.getElementById('grid-error').textContent = '';
    render();
  } catch (e) {
    if (e.status === 401 || e.status === 403) return showSignIn(e.status === 403 ? 'That is a seat token, not an organizer token.' : '');
    document.getElementById('grid-error').textContent = e.message;
  }
}

async function resetSeat(lab, seat) {
  if (!(await confirmAction(`Reset every VM of seat ${seat} of ${lab}? The attendee loses all work on them.`))) return;
  try {
    await api('POST', `/api/labs/${encodeURIComponent(lab)}/seats/${seat}/reset`, {});
  } catch (e) {
    document.getElementById('grid-error').textContent = e.message;
  }
  refresh();
}

async function issueCards() {
  const lab = current;
  if (!lab) return;
  if (!(await confirmAction(`New tokens for every assigned seat of ${lab}: the cards printed so far stop working, and ` +
                            `attendees signed in with them are signed out. Type the lab name (${lab}) to go ahead.`, lab))) return;
  try {
    const response = await fetch(`/api/labs/${encodeURIComponent(lab)}/cards`, {
      method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ format: 'html', confirm: lab }),
    });
    if (!response.ok) throw new Error((await response.json()).error);
    const url = URL.createObjectURL(await response.blob());
    const link = el('a', { href: url, download: `${lab}-cards-with-tokens.html` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    document.getElementById('grid-error').textContent = e.message;
  }
}

function showSignIn(message) {
  show('grid-view', false);
  show('sign-in-view', true);
  document.getElementById('sign-in-error').textContent = message || '';
}

async function enter() {
  show('sign-in-view', false);
  show('grid-view', true);
  await refresh();
}

async function start() {
  document.getElementById('sign-in-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = document.getElementById('organizer-token-input');
    try {
      const who = await api('POST', '/api/session', { token: input.value.trim() });
      input.value = '';
      if (who.role !== 'organizer') {
        await api('DELETE', '/api/session');
        return showSignIn('That is a seat token, not an organizer token.');
      }
      enter();
    } catch (e) {
      showSignIn(e.status === 401 ? 'This token is not valid here.' : e.message);
    }
  });
  document.getElementById('lab-select').addEventListener('change', (event) => { current = event.target.value; render(); });
  document.getElementById('issue-cards').addEventListener('click', issueCards);
  document.getElementById('sign-out').addEventListener('click', signOut);
  try {
    const who = await api('GET', '/api/session');
    if (who.role === 'organizer') return enter();
  } catch (e) { /* not signed in */ }
  showSignIn();
}

setInterval(() => { if (!document.getElementById('grid-view').hidden) refresh(); }, 3000);
start();
