// The console page: noVNC (Debian's novnc package, served under /novnc/) through the portal's
// WebSocket proxy, with the VNC password the API hands to the seat's own attendee.
import { api } from './common.js';

const vm = new URLSearchParams(location.search).get('vm') || '';
const status = document.getElementById('console-status');
const reconnect = document.getElementById('reconnect');
const ctrlAltDel = document.getElementById('ctrl-alt-del');
let RFB = null;
let rfb = null;

async function connect() {
  reconnect.hidden = true;
  status.textContent = 'Connecting…';
  status.title = '';
  let info;
  try {
    info = await api('GET', `/api/vms/${encodeURIComponent(vm)}/console`);
  } catch (e) {
    status.textContent = 'Disconnected…';
    status.title = e.status === 401 ? 'sign in on the seat page first' : e.message;
    reconnect.hidden = false;
    return;
  }
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${info.websocket_path}`;
  rfb = new RFB(document.getElementById('screen'), url,
                { credentials: { password: info.password }, wsProtocols: ['binary'] });
  rfb.scaleViewport = true;
  rfb.background = '#222';
  rfb.addEventListener('connect', () => {
    status.textContent = 'Connected';
    ctrlAltDel.disabled = false;
    rfb.focus();
  });
  rfb.addEventListener('disconnect', (event) => {
    status.textContent = 'Disconnected…';
    status.title = event.detail && event.detail.clean ? '' : 'the connection was lost';
    ctrlAltDel.disabled = true;
    reconnect.hidden = false;
    rfb = null;
  });
  rfb.addEventListener('credentialsrequired', () => rfb.sendCredentials({ password: info.password }));
  rfb.addEventListener('securityfailure', (event) => { status.title = event.detail.reason || 'VNC security failure'; });
}

async function start() {
  document.getElementById('console-title').textContent = vm;
  document.title = `Console: ${vm}`;
  ctrlAltDel.addEventListener('click', () => rfb && rfb.sendCtrlAltDel());
  reconnect.addEventListener('click', connect);
  try {
    ({ default: RFB } = await import('/novnc/core/rfb.js'));
  } catch (e) {
    status.textContent = 'Disconnected…';
    status.title = 'noVNC is not installed on the server (apt-get install novnc)';
    return;
  }
  connect();
}

start();
