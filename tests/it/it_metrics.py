#!/usr/bin/env python3
"""it_metrics: GET /metrics against the real ringexecd, read with a real parser (TAP).

Each case starts its own ringexecd ($RINGEXECD), so counters start at zero
and can be compared exactly with the work the case did: processes started
over a small WebSocket client written here (pipes, a PTY, sandboxed ones,
failing ones), output, protocol errors, connections opened and closed,
refusals of every reason, back-pressure and detached sessions. The scrape
is parsed with Debian's python3-prometheus-client
(prometheus_client.parser.text_string_to_metric_families). Waits are on
events with a deadline (a scrape is polled until a gauge says so), never a
fixed sleep.
"""
import base64
import json
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # reported as a skip in main()
    text_string_to_metric_families = None

RINGEXECD = os.path.abspath(os.environ['RINGEXECD']) if os.environ.get('RINGEXECD') else ''
DEADLINE = 15.0  # seconds for anything to happen
TMP = tempfile.mkdtemp(prefix='it_metrics.')
PATH_ENV = {'PATH': '/usr/local/bin:/usr/bin:/bin'}
LABELS = {'reason', 'state', 'code', 'stream', 'le', 'version'}


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def wait_for(pred, what, timeout=DEADLINE):
    """Poll pred() every 20 ms until it returns something true; fail at the deadline."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError('timed out waiting for ' + what)
        time.sleep(0.02)


class Server:
    """A ringexecd of its own (TCP on loopback, or a unix socket); counts our connections."""

    def __init__(self, *extra, listen='ws://127.0.0.1:0', env=None):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith('RINGEXEC_')}
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [RINGEXECD, '--listen', listen, '--log-level', 'error'] + list(extra),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=full_env, cwd=TMP)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode().strip() if ready else ''
        if not line:
            self.proc.kill()
            raise AssertionError('ringexecd printed no URL line')
        self.url = line
        self.conns = 0  # connections this test made to it

    def connect(self):
        self.conns += 1
        if self.url.startswith('unix://'):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.url[len('unix://'):])
        else:
            host, port = self.url[len('ws://'):].rsplit(':', 1)
            s = socket.create_connection((host, int(port)))
        s.settimeout(DEADLINE)
        return s

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def read_to_eof(s):
    out = b''
    while True:
        d = s.recv(65536)
        if not d:
            return out
        out += d


def http_get(srv, path, headers=None, method='GET'):
    """One request (the server answers and closes): (status, headers, body)."""
    s = srv.connect()
    try:
        req = f'{method} {path} HTTP/1.1\r\nHost: ringexecd\r\n'
        for k, v in (headers or {}).items():
            req += f'{k}: {v}\r\n'
        s.sendall((req + '\r\n').encode())
        data = read_to_eof(s)
    finally:
        s.close()
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    check(lines[0].startswith('HTTP/1.1 '), f'not an HTTP response: {data[:80]!r}')
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(':')
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, body


class Scrape:
    """One GET /metrics, parsed; v(name, **labels) is a sample's value."""

    def __init__(self, srv, token=None):
        hdrs = {'Authorization': f'Bearer {token}'} if token else {}
        status, self.headers, body = http_get(srv, '/metrics', hdrs)
        check(status == 200, f'GET /metrics: {status} {body[:200]!r}')
        self.text = body.decode()
        self.families = list(text_string_to_metric_families(self.text))
        self.samples = {}
        for f in self.families:
            for s in f.samples:
                self.samples[(s.name, tuple(sorted(s.labels.items())))] = s.value

    def v(self, name, **labels):
        key = (name, tuple(sorted(labels.items())))
        check(key in self.samples, f'no sample {name}{labels or ""} in the scrape')
        return self.samples[key]


def delta(a, b, name, **labels):
    return b.v(name, **labels) - a.v(name, **labels)


# ---- a small WebSocket + JSON-RPC client ----

class WS:
    def __init__(self, srv, token=None, init=True, binary=False):
        self.sock = srv.connect()
        key = base64.b64encode(os.urandom(16)).decode()
        req = ('GET / HTTP/1.1\r\nHost: ringexecd\r\nUpgrade: websocket\r\n'
               'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n'
               f'Sec-WebSocket-Key: {key}\r\n')
        if token:
            req += f'Authorization: Bearer {token}\r\n'
        self.sock.sendall((req + '\r\n').encode())
        self.buf = b''
        while b'\r\n\r\n' not in self.buf:
            self._more()
        head, _, self.buf = self.buf.partition(b'\r\n\r\n')
        check(head.startswith(b'HTTP/1.1 101'), f'upgrade: {head[:60]!r}')
        self.next_id = 1
        self.notes = []  # notifications, in order (None: a binary frame)
        self.replies = {}  # id -> reply not yet taken
        self.session = None
        if init:
            self.initialize(binary=binary)

    def initialize(self, resume=None, binary=False):
        params = {'clientName': 'it_metrics'}
        if resume:
            params['resumeSessionId'] = resume
        if binary:
            params['binaryOutput'] = True
        r = self.call('initialize', params)
        check(not binary or r['result'].get('binaryOutput') is True, f'binaryOutput: {r}')
        self.session = r['result']['sessionId']
        self.notify('initialized')

    def _more(self):
        d = self.sock.recv(1 << 20)
        if not d:
            raise EOFError('the server closed the connection')
        self.buf += d

    def _frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        hdr = bytes([0x80 | opcode])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack('>H', n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack('>Q', n)
        m = int.from_bytes(mask * (n // 4 + 1), 'little')
        body = (int.from_bytes(payload, 'little') ^ m).to_bytes(n + 4, 'little')[:n] if n else b''
        self.sock.sendall(hdr + mask + body)

    def send_text(self, text):
        self._frame(0x1, text.encode())

    def _frame_in(self):
        """A whole frame from the front of buf: (opcode, payload), or None."""
        b = self.buf
        if len(b) < 2:
            return None
        n, off = b[1] & 0x7f, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, off = struct.unpack('>H', b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, off = struct.unpack('>Q', b[2:10])[0], 10
        if len(b) < off + n:
            return None
        self.buf = b[off + n:]
        return b[0] & 0x0f, b[off:off + n]

    def recv(self):
        """The next message: a dict, or None for a non-JSON (binary) one."""
        while True:
            f = self._frame_in()
            if f is None:
                self._more()
                continue
            opcode, payload = f
            if opcode == 0x9:
                self._frame(0xA, payload)
            elif opcode == 0x8:
                raise EOFError('close frame')
            elif opcode == 0x1:
                return json.loads(payload)
            elif opcode == 0x2:
                return None

    def notify(self, method, params=None):
        msg = {'method': method}
        if params is not None:
            msg['params'] = params
        self.send_text(json.dumps(msg))

    def send_call(self, method, params=None):
        i = self.next_id
        self.next_id += 1
        msg = {'id': i, 'method': method}
        if params is not None:
            msg['params'] = params
        self.send_text(json.dumps(msg))
        return i

    def _take(self):
        """Read one message: a reply is kept for reply(), the rest is a note."""
        m = self.recv()
        if m is not None and 'id' in m and 'method' not in m:
            self.replies[m['id']] = m
        else:
            self.notes.append(m)
        return m

    def reply(self, i):
        while i not in self.replies:
            self._take()
        return self.replies.pop(i)

    def call(self, method, params=None):
        return self.reply(self.send_call(method, params))

    def wait_note(self, method, pid):
        for m in self.notes:
            if m and m.get('method') == method and m['params']['processId'] == pid:
                return m
        while True:
            m = self._take()
            if m and m.get('method') == method and m['params']['processId'] == pid:
                return m

    def outputs(self):
        return [m for m in self.notes if m is None or m.get('method') == 'process/output']

    def close(self):
        """Close frame, the server's close and EOF, then our end."""
        try:
            self._frame(0x8, struct.pack('>H', 1000))
            while True:
                self.recv()
        except (EOFError, OSError):
            pass
        self.sock.close()


def start(ws, pid, argv, **extra):
    params = {'processId': pid, 'argv': argv, 'cwd': TMP, 'env': PATH_ENV, 'tty': False}
    params.update(extra)
    return ws.call('process/start', params)


def sandbox_policy(mode='workspace-write'):
    """codex's policy for a workspace at TMP (as tests/it/it_sandbox.c builds it)."""
    def entry(access, kind, subpath=None):
        value = {'kind': kind}
        e = {'access': access, 'path': {'type': 'special', 'value': value}}
        if subpath:
            value['subpath'] = subpath
            e['missing_path_behavior'] = 'skip'
        return e
    entries = [entry('read', 'root')]
    if mode == 'workspace-write':
        entries += [entry('write', 'project_roots'), entry('write', 'slash_tmp'),
                    entry('write', 'tmpdir')]
        entries += [entry('read', 'project_roots', s) for s in ('.git', '.agents', '.codex')]
    uri = 'file://' + TMP
    return {'cwd': uri, 'workspaceRoots': [uri],
            'permissions': {'type': 'managed', 'network': 'restricted',
                            'file_system': {'type': 'restricted', 'entries': entries}},
            'windowsSandboxLevel': 'disabled', 'useLegacyLandlock': False}


# ---- cases ----

def case_exposition():
    with Server() as srv:
        a = Scrape(srv)
        check(a.headers.get('content-type') == 'text/plain; version=0.0.4; charset=utf-8',
              f'content type {a.headers.get("content-type")!r}')
        check(len(a.families) >= 25, f'only {len(a.families)} families')
        names = set()
        for f in a.families:
            check(f.name.startswith('ringexecd_'), f'family {f.name} is not ringexecd_*')
            check(f.type in ('counter', 'gauge', 'histogram'), f'{f.name}: type {f.type}')
            check(f.documentation, f'{f.name} has no HELP')
            check(f.name not in names, f'{f.name} twice')
            names.add(f.name)
            raw = f.name + '_total' if f.type == 'counter' else f.name
            check(f'\n# HELP {raw} ' in '\n' + a.text and f'\n# TYPE {raw} {f.type}\n' in '\n' + a.text,
                  f'HELP/TYPE lines of {raw}')
            for s in f.samples:
                check(set(s.labels) <= LABELS, f'{s.name}: label {set(s.labels) - LABELS}')
                if f.type == 'counter':
                    check(s.name.endswith('_total'), f'counter sample {s.name}')
                    check(s.value >= 0 and s.value == int(s.value), f'{s.name} = {s.value}')
                if 'bytes' in s.name:
                    check(s.name.endswith(('_bytes', '_bytes_total')), f'{s.name}: unit not last')
            if f.type == 'histogram':
                check(f.name.endswith('_seconds'), f'{f.name}: no unit')
                buckets = [s for s in f.samples if s.name.endswith('_bucket')]
                les = [s.labels['le'] for s in buckets]
                check(les[0] == '0.0001' and les[-2] == '10' and les[-1] == '+Inf',
                      f'{f.name} buckets {les}')
                values = [s.value for s in buckets]
                check(values == sorted(values), f'{f.name} buckets not cumulative')
                count = [s.value for s in f.samples if s.name.endswith('_count')]
                check(count == [values[-1]], f'{f.name}: +Inf {values[-1]} != count {count}')
        version = subprocess.run([RINGEXECD, '--version'], capture_output=True,
                                 text=True).stdout.split()[-1]
        check(a.v('ringexecd_build_info', version=version) == 1, 'build_info')
        check(a.v('ringexecd_start_time_seconds') > time.time() - 3600, 'start time')
        b = wait_for(lambda: (lambda s: s if s.v('ringexecd_uptime_seconds') >
                              a.v('ringexecd_uptime_seconds') else None)(Scrape(srv)),
                     'uptime to grow')
        check(b.v('ringexecd_start_time_seconds') == a.v('ringexecd_start_time_seconds'),
              'start time moved')
        # Not GET: 405; /readyz and /livez unchanged.
        check(http_get(srv, '/metrics', method='POST')[0] == 405, 'POST /metrics')
        check(http_get(srv, '/readyz')[2] == b'ok' and http_get(srv, '/livez')[0] == 200,
              '/readyz, /livez')


def case_counters_follow_the_work():
    with Server() as srv:
        s0 = Scrape(srv)
        sandbox = s0.v('ringexecd_sandbox_available') == 1
        ws = WS(srv)
        pids = []
        for i in range(4):
            r = start(ws, f'pipe{i}', ['sh', '-c', 'printf hello; printf oops >&2'])
            check('result' in r, f'start: {r}')
            pids.append(f'pipe{i}')
        r = start(ws, 'pty', ['printf', 'pty'], tty=True)
        check('result' in r, f'pty start: {r}')
        pids.append('pty')
        for i in range(2):
            r = start(ws, f'sb{i}', ['sh', '-c', 'printf sandboxed'], sandbox=sandbox_policy())
            if sandbox:
                check(r.get('result', {}).get('sandboxType') == 'linuxSeccomp', f'sandboxed: {r}')
                pids.append(f'sb{i}')
            else:
                check(r.get('error', {}).get('code') == -32603, f'no sandbox here: {r}')
        r = start(ws, 'missing', ['/nonexistent/ringexec-it-prog'])
        check(r.get('error', {}).get('code') == -32603, f'missing program: {r}')
        r = start(ws, 'nocwd', ['true'], cwd='/nonexistent/ringexec-it-dir')
        check(r.get('error', {}).get('code') == -32603, f'missing cwd: {r}')
        check(ws.call('no/such/method')['error']['code'] == -32601, 'unknown method')
        check(start(ws, 'bad', 'not an array')['error']['code'] == -32602, 'bad params')
        ws.send_text('{this is not json')
        check(ws.reply(-1)['error']['code'] == -32600, 'bad JSON')
        for pid in pids:
            ws.wait_note('process/closed', pid)
        requests = ws.next_id - 1  # every call took an id; bad JSON is no request

        s1 = Scrape(srv)
        n_sb = 2 if sandbox else 0
        started = 5 + n_sb
        want = {
            ('ringexecd_spawns_total',): started,
            ('ringexecd_sandboxed_spawns_total',): n_sb,
            ('ringexecd_spawn_failures_total',): 2,
            ('ringexecd_spawn_duration_seconds_count',): started,
            ('ringexecd_process_lifetime_seconds_count',): started,
            ('ringexecd_requests_total',): requests,
            ('ringexecd_sessions_created_total',): 1,
            ('ringexecd_websocket_upgrades_total',): 1,
            ('ringexecd_output_messages_total',): len(ws.outputs()),
        }
        for (name,), n in want.items():
            check(delta(s0, s1, name) == n, f'{name}: {delta(s0, s1, name)}, want {n}')
        for code, n in (('-32600', 1), ('-32601', 1), ('-32602', 1),
                        ('-32603', 2 + (0 if sandbox else 2)), ('other', 0)):
            d = delta(s0, s1, 'ringexecd_protocol_errors_total', code=code)
            check(d == n, f'errors {code}: {d}, want {n}')
        out = {'stdout': 4 * 5 + n_sb * 9, 'stderr': 4 * 4, 'pty': 3}
        for stream, n in out.items():
            d = delta(s0, s1, 'ringexecd_output_bytes_total', stream=stream)
            check(d == n, f'{stream} bytes: {d}, want {n}')
        check(len(ws.outputs()) >= 4 * 2 + 1 + n_sb, f'{len(ws.outputs())} outputs')
        check(s1.v('ringexecd_retained_bytes') == sum(out.values()),
              f'retained {s1.v("ringexecd_retained_bytes")}')
        for state, n in (('starting', 0), ('running', 0), ('exited', 0), ('closed', started)):
            check(s1.v('ringexecd_processes', state=state) == n,
                  f'processes {state}: {s1.v("ringexecd_processes", state=state)}')
        check(s1.v('ringexecd_sessions', state='attached') == 1, 'attached')
        check(s1.v('ringexecd_connections_open') == 2, 'open: the session and this scrape')
        check(delta(s0, s1, 'ringexecd_spawn_duration_seconds_sum') > 0, 'spawn time sum')
        check(delta(s0, s1, 'ringexecd_process_lifetime_seconds_sum') >=
              delta(s0, s1, 'ringexecd_spawn_duration_seconds_sum'), 'lifetime below spawn time')

        ws.close()
        s2 = wait_for(lambda: (lambda s: s if s.v('ringexecd_connections_open') == 1
                               else None)(Scrape(srv)), 'the connection to go')
        check(s2.v('ringexecd_sessions', state='attached') == 0, 'still attached')
        check(s2.v('ringexecd_sessions', state='detached') == 1, 'not detached')
        check(s2.v('ringexecd_connections_accepted_total') == srv.conns,
              f'accepted {s2.v("ringexecd_connections_accepted_total")}, made {srv.conns}')
        check(delta(s1, s2, 'ringexecd_received_bytes_total') > 0, 'received bytes')
        check(delta(s0, s2, 'ringexecd_sent_bytes_total') > 0, 'sent bytes')
        refused = sum(s2.v('ringexecd_connections_refused_total', reason=r) for r in
                      ('max_connections', 'origin', 'token', 'peer_uid', 'sandboxed_peer',
                       'bad_request', 'head_timeout'))
        check(refused == 0, f'{refused} refusals')


def case_binary_output_counted():
    with Server() as srv:
        s0 = Scrape(srv)
        ws = WS(srv, binary=True)
        start(ws, 'bin', ['sh', '-c', 'printf abc; printf defg >&2'])
        ws.wait_note('process/closed', 'bin')
        frames = [m for m in ws.notes if m is None]
        check(len(frames) == 2 and len(ws.outputs()) == 2, f'{len(frames)} binary frames')
        s1 = Scrape(srv)
        check(delta(s0, s1, 'ringexecd_output_messages_total') == 2, 'messages')
        check(delta(s0, s1, 'ringexecd_output_bytes_total', stream='stdout') == 3, 'stdout')
        check(delta(s0, s1, 'ringexecd_output_bytes_total', stream='stderr') == 4, 'stderr')
        ws.close()


SCRAPE_FROM_INSIDE = r'''
import socket
s = socket.create_connection(('127.0.0.1', %d), 5)
s.sendall(b'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n')
data = b''
while True:
    d = s.recv(4096)
    if not d:
        break
    data += d
print('status', data.split(b'\r\n')[0].decode())
'''


def case_sandboxed_cannot_scrape():
    with Server() as srv:
        if Scrape(srv).v('ringexecd_sandbox_available') != 1:
            return 'SKIP no sandbox on this host'
        ws = WS(srv)
        policy = sandbox_policy()
        policy['permissions']['network'] = 'enabled'
        port = int(srv.url.rsplit(':', 1)[1])
        r = start(ws, 'inside', ['python3', '-c', SCRAPE_FROM_INSIDE % port], sandbox=policy)
        check('result' in r, f'start: {r}')
        ws.wait_note('process/closed', 'inside')
        out = b''.join(base64.b64decode(m['params']['chunk']) for m in ws.outputs()
                       if m and m['params']['stream'] == 'stdout')
        check(b'status HTTP/1.1 403' in out, f'from inside the sandbox: {out!r}')
        s = Scrape(srv)
        check(s.v('ringexecd_connections_refused_total', reason='sandboxed_peer') == 1,
              'sandboxed_peer')
        check(s.v('ringexecd_connections_refused_total', reason='peer_uid') == 0, 'peer_uid')
        ws.close()


def case_token_required():
    token = 'it-metrics-token-' + base64.b16encode(os.urandom(8)).decode()
    with Server(env={'RINGEXEC_AUTH_TOKEN': token}) as srv:
        status, hdrs, _ = http_get(srv, '/metrics')
        check(status == 401, f'no token: {status}')
        check(hdrs.get('www-authenticate') == 'Bearer', f'401 headers {hdrs}')
        status, _, _ = http_get(srv, '/metrics', {'Authorization': 'Bearer wrong'})
        check(status == 401, f'wrong token: {status}')
        check(http_get(srv, '/readyz')[0] == 200 and http_get(srv, '/livez')[0] == 200,
              'probes need no token')
        s = Scrape(srv, token=token)
        check(s.v('ringexecd_connections_refused_total', reason='token') == 2,
              f'token refusals {s.v("ringexecd_connections_refused_total", reason="token")}')
        ws = WS(srv, token=token)
        ws.close()
        check(Scrape(srv, token=token).v('ringexecd_websocket_upgrades_total') == 1, 'upgrade')


GET_AS = r'''
import socket, sys
host, port = sys.argv[1].rsplit(':', 1)
s = socket.create_connection((host, int(port)))
s.sendall(('GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % sys.argv[2]).encode())
data = b''
while True:
    d = s.recv(4096)
    if not d:
        break
    data += d
print(data.split(b' ')[1].decode())
'''


def get_as_nobody(srv, path):
    srv.conns += 1
    hostport = srv.url[len('ws://'):]
    p = subprocess.run([sys.executable, '-c', GET_AS, hostport, path], user=65534, group=65534,
                       extra_groups=[], capture_output=True, text=True, timeout=DEADLINE,
                       cwd='/')
    check(p.returncode == 0, f'as nobody: {p.stderr}')
    return int(p.stdout.strip())


def case_peer_uid_checked():
    if os.geteuid() != 0:
        return 'SKIP needs root to run a client as nobody'
    with Server() as srv:
        check(get_as_nobody(srv, '/metrics') == 403, 'nobody scraped /metrics')
        check(get_as_nobody(srv, '/readyz') == 200, 'nobody cannot probe /readyz')
        s = Scrape(srv)
        check(s.v('ringexecd_connections_refused_total', reason='peer_uid') == 1, 'peer_uid')
    with Server('--allow-uid', '65534') as srv:
        check(get_as_nobody(srv, '/metrics') == 200, '--allow-uid 65534 refused')


def case_refusals_by_reason():
    with Server('--head-timeout-ms', '300') as srv:
        check(http_get(srv, '/')[0] == 400, 'GET / without an upgrade')
        check(http_get(srv, '/metrics', {'Origin': 'http://evil.example'})[0] == 403, 'Origin')
        check(http_get(srv, '/nope')[0] == 404, '404')
        s = srv.connect()  # says nothing: 408 at the deadline
        resp = read_to_eof(s)
        s.close()
        check(resp.startswith(b'HTTP/1.1 408'), f'head timeout: {resp[:40]!r}')
        sc = Scrape(srv)
        for reason, n in (('bad_request', 1), ('origin', 1), ('head_timeout', 1),
                          ('max_connections', 0), ('token', 0), ('peer_uid', 0)):
            v = sc.v('ringexecd_connections_refused_total', reason=reason)
            check(v == n, f'{reason}: {v}, want {n}')
    with Server('--max-connections', '1') as srv:
        held = srv.connect()  # one live connection, its head not sent
        seen = 0
        status, _, _ = http_get(srv, '/readyz')
        check(status == 503, f'over --max-connections: {status}')
        seen += 1
        held.close()

        def scrape_when_room():
            nonlocal seen
            try:
                return Scrape(srv)
            except AssertionError as e:
                if 'GET /metrics: 503' not in str(e):
                    raise
                seen += 1
                return None
        sc = wait_for(scrape_when_room, 'the held connection to go')
        v = sc.v('ringexecd_connections_refused_total', reason='max_connections')
        check(v == seen, f'max_connections: {v}, saw {seen} 503s')


def make_fifo(name):
    path = os.path.join(TMP, name)
    os.mkfifo(path)
    return path


def case_backpressure_send_queue():
    sock = os.path.join(TMP, 'bp.sock')
    # A unix socket's kernel buffers are small: a client that reads nothing
    # fills them soon, and then the server's send queue.
    with Server('--send-high-water', '65536', listen='unix://' + sock) as srv:
        s0 = Scrape(srv)
        ws = WS(srv)
        r = start(ws, 'flood', ['head', '-c', str(4 << 20), '/dev/zero'])
        check('result' in r, f'start: {r}')
        s1 = wait_for(lambda: (lambda s: s if s.v('ringexecd_backpressure_pauses_total',
                                                  reason='send_queue') >= 1 else None)(Scrape(srv)),
                      'an output pause')
        check(s1.v('ringexecd_retained_bytes') > 0, 'nothing retained while paused')
        check(s1.v('ringexecd_processes', state='running') == 1, 'flood not running')
        # Once the queue stays over its mark (the socket is full), a request
        # stops the connection's reads too; until then each one is answered.
        ids = []

        def request_paused():
            ids.append(ws.send_call('no/such/method'))
            return Scrape(srv).v('ringexecd_backpressure_pauses_total', reason='requests') >= 1
        wait_for(request_paused, 'a request pause')
        ws.wait_note('process/closed', 'flood')
        for i in ids:
            check(ws.reply(i)['error']['code'] == -32601, 'a request sent while paused')
        s2 = Scrape(srv)
        check(delta(s0, s2, 'ringexecd_output_bytes_total', stream='stdout') == 4 << 20,
              'flood bytes')
        check(delta(s0, s2, 'ringexecd_output_messages_total') == len(ws.outputs()),
              'messages != notifications received')
        check(s2.v('ringexecd_backpressure_pauses_total', reason='detached') == 0, 'detached')
        ws.close()


def case_detached_sessions():
    sock = os.path.join(TMP, 'det.sock')
    fifo = make_fifo('go')
    with Server('--retain-bytes', '65536', '--session-ttl', '1',
                listen='unix://' + sock) as srv:
        ws = WS(srv)
        # It writes only once we say so, with its session detached.
        r = start(ws, 'late', ['sh', '-c', f'read x < {fifo}; head -c {4 << 20} /dev/zero'])
        check('result' in r, f'start: {r}')
        session = ws.session
        ws.close()
        wait_for(lambda: Scrape(srv).v('ringexecd_sessions', state='detached') == 1,
                 'the session to detach')
        with open(fifo, 'w') as f:
            f.write('go\n')
        s1 = wait_for(lambda: (lambda s: s if s.v('ringexecd_backpressure_pauses_total',
                                                  reason='detached') >= 1 else None)(Scrape(srv)),
                      'a detached pause')
        check(s1.v('ringexecd_retained_bytes') >= 65536, f'retained {s1.v("ringexecd_retained_bytes")}')
        ws = WS(srv, init=False)
        ws.initialize(resume=session)
        s2 = Scrape(srv)
        check(s2.v('ringexecd_sessions_resumed_total') == 1, 'resumed')
        check(s2.v('ringexecd_sessions', state='attached') == 1, 'attached again')
        ws.close()
        s3 = wait_for(lambda: (lambda s: s if s.v('ringexecd_sessions_expired_total') == 1
                               else None)(Scrape(srv)), 'the session to expire')
        check(s3.v('ringexecd_sessions', state='detached') == 0, 'detached after expiry')
        wait_for(lambda: Scrape(srv).v('ringexecd_processes', state='running') == 0,
                 'its process to be killed')
        check(s3.v('ringexecd_sessions_created_total') == 1, 'created')


CASES = [
    ('the exposition: HELP and TYPE, ringexecd_* names, _total counters, units, histograms,'
     ' build info, uptime', case_exposition),
    ('counters follow the work: pipes, a PTY, sandboxed and failing starts, output, errors,'
     ' connections opened and closed', case_counters_follow_the_work),
    ('binary output frames count as output messages', case_binary_output_counted),
    ('a sandboxed command cannot scrape /metrics (403, sandboxed_peer)',
     case_sandboxed_cannot_scrape),
    ('with a token, /metrics needs it (401 without or wrong); probes stay open',
     case_token_required),
    ('without a token, another user gets 403 on /metrics (not on /readyz); --allow-uid lets it in',
     case_peer_uid_checked),
    ('refusals by reason: bad_request, origin, head_timeout, max_connections; a 404 is none',
     case_refusals_by_reason),
    ('back-pressure: a client that reads nothing pauses output, then its requests',
     case_backpressure_send_queue),
    ('detached sessions: retention full pauses output; resumed; expired', case_detached_sessions),
]


def main():
    if not RINGEXECD:
        print('1..0 # SKIP RINGEXECD must name the binary')
        return 0
    if text_string_to_metric_families is None:
        print('1..0 # SKIP python3-prometheus-client is not installed')
        return 0
    only = sys.argv[1:]
    cases = [c for c in CASES if not only or any(o in c[1].__name__ for o in only)]
    print(f'1..{len(cases)}', flush=True)
    failed = 0
    try:
        for n, (name, fn) in enumerate(cases, 1):
            try:
                skip = fn()
                print(f'ok {n} - {name}' + (f' # {skip}' if skip else ''), flush=True)
            except Exception as e:  # noqa: BLE001 (a case's failure of any kind)
                failed += 1
                print(f'not ok {n} - {name}', flush=True)
                for line in (f'{type(e).__name__}: {e}\n' + traceback.format_exc()).splitlines():
                    print('# ' + line, flush=True)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
