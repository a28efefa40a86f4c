// The attendee page: sign in with the seat token, see the seat's VMs, reset, open consoles.
import { api, el, show, confirmAction, sleep, signOut, formatTime } from './common.js';

const status = () => document.getElementById('reset-status');
let seat = null;
let polling = false;

function describeJob(job) {
  if (!job) return '';
  if (job.state === 'queued' || job.state === 'running') return 'Resetting…';
  if (job.state === 'done') return 'Ready';
  return `Failed: ${job.error || 'unknown error'}`;
}

function render(view) {
  seat = view;
  document.getElementById('seat-title').textContent =
    `${view.title || view.lab} · seat ${view.seat}${view.attendee ? ' · ' + view.attendee : ''}`;
  const body = document.querySelector('#vms tbody');
  const busy = view.reset && (view.reset.state === 'queued' || view.reset.state === 'running');
  body.replaceChildren(...view.vms.map((vm) => {
    const ips = vm.leased_ips.length ? vm.leased_ips : vm.ips;
    const console = vm.console
      ? el('a', { class: 'console-link', href: `/console.html?vm=${encodeURIComponent(vm.name)}`, target: '_blank',
                  rel: 'noopener', text: 'Open' })
      : el('a', { class: 'console-link disabled', href: `/console.html?vm=${encodeURIComponent(vm.name)}`,
                  target: '_blank', rel: 'noopener', title: 'no graphical console right now', text: 'Open' });
    const reset = el('button', { type: 'button', class: 'reset-vm', text: 'Reset' });
    reset.disabled = busy;
    reset.addEventListener('click', () => askReset(vm.name));
    const login = vm.login
      ? el('td', { class: 'vm-login', title: vm.ssh || '' },
          el('span', { class: 'login-user', text: vm.login.user }), ' / ',
          el('span', { class: 'login-password', text: vm.login.password }))
      : el('td', { class: 'vm-login', text: '–' });
    const row = el('tr', { 'data-vm': vm.name },
      el('td', { text: vm.name }),
      el('td', { class: 'vm-hostname', text: vm.hostname }),
      el('td', { class: `vm-state state-${vm.state.replace(/\s+/g, '-')}`, text: vm.state }),
      el('td', { class: 'vm-ip', text: ips.join(', ') || '–' }),
      login,
      el('td', {}, console),
      el('td', {}, reset));
    return row;
  }));
  document.getElementById('reset-seat').disabled = busy;
  document.getElementById('reset-seat').title = view.last_reset ? `last reset ${formatTime(view.last_reset)}` : '';
  if (!polling) status().textContent = describeJob(view.reset);
}

async function refresh() {
  try {
    render(await api('GET', '/api/seat'));
  } catch (e) {
    if (e.status === 401) return showSignIn('Your session ended; sign in again.');
    status().textContent = `Failed: ${e.message}`;
  }
}

async function follow(job) {
  polling = true;
  status().textContent = describeJob(job);
  try {
    while (job.state === 'queued' || job.state === 'running') {
      await sleep(1500);
      job = await api('GET', `/api/jobs/${job.id}`);
      status().textContent = describeJob(job);
    }
  } catch (e) {
    status().textContent = `Failed: ${e.message}`;
  } finally {
    polling = false;
  }
  await refresh();
  status().textContent = describeJob(job);
}

async function askReset(vm) {
  const what = vm ? `the VM ${vm}` : `all VMs of seat ${seat.seat}`;
  if (!(await confirmAction(`Reset ${what}? They are powered off and their disks go back to the clean baseline: ` +
                            'everything you changed on them is lost.'))) return;
  try {
    const answer = vm ? await api('POST', `/api/vms/${encodeURIComponent(vm)}/reset`)
                      : await api('POST', '/api/seat/reset', {});
    await follow(answer.job);
  } catch (e) {
    if (e.status === 409 && e.body.job) return follow(e.body.job);
    if (e.status === 429) {
      status().textContent = `Not yet: try again in ${e.retryAfter || e.body.retry_after} s`;
      return;
    }
    status().textContent = `Failed: ${e.message}`;
  }
}

function showSignIn(message) {
  show('seat-view', false);
  show('sign-in-view', true);
  document.getElementById('sign-in-error').textContent = message || '';
  document.getElementById('token-input').focus();
}

async function signIn(token) {
  const error = document.getElementById('sign-in-error');
  error.textContent = '';
  try {
    const who = await api('POST', '/api/session', { token });
    if (who.role !== 'seat') {
      location.href = '/proctor';
      return;
    }
    document.getElementById('token-input').value = '';
    await enter();
  } catch (e) {
    showSignIn(e.status === 401 ? 'This token opens no seat. Check it against your seat card.' : e.message);
  }
}

async function enter() {
  show('sign-in-view', false);
  show('seat-view', true);
  await refresh();
  const job = seat && seat.reset;
  if (job && (job.state === 'queued' || job.state === 'running')) follow(job);
}

async function start() {
  document.getElementById('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    signIn(document.getElementById('token-input').value.trim());
  });
  document.getElementById('reset-seat').addEventListener('click', () => askReset(null));
  document.getElementById('sign-out').addEventListener('click', signOut);

  // A card's link carries the token in the fragment, which browsers never send; drop it from
  // the address bar and the history at once.
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get('token');
  if (token) history.replaceState(null, '', location.pathname + location.search);
  if (token) return signIn(token);

  try {
    const who = await api('GET', '/api/session');
    if (who.role === 'seat') return enter();
  } catch (e) { /* not signed in */ }
  showSignIn();
}

setInterval(() => { if (seat && !polling && !document.getElementById('seat-view').hidden) refresh(); }, 10000);
start();
