#!/usr/bin/env python3
"""it_cli: ringexec, the command-line client, used as a person would (TAP).

Every case runs the real `ringexec` ($RINGEXEC) against a real ringexecd
($RINGEXECD) started here. The terminal cases run it in tmux: they type with
send-keys, read the screen with capture-pane (waiting for the expected text
with a deadline, never a fixed sleep), resize the window, press Ctrl-C and
Ctrl-D, and compare `stty -g` before and after. The pipe cases check stdout
and stderr apart, 8 MiB of stdin by hash, exit statuses, start failures,
the environment, detach/attach, ps, kill, cp, health and the error lines.
"""
import hashlib
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

RINGEXECD = os.path.abspath(os.environ['RINGEXECD']) if os.environ.get('RINGEXECD') else ''
RINGEXEC = os.path.abspath(os.environ['RINGEXEC']) if os.environ.get('RINGEXEC') else ''
DEADLINE = 15.0  # seconds for anything to show up
UUID = r'[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
TMP = tempfile.mkdtemp(prefix='it_cli.')


def kids(pid):
    try:
        with open(f'/proc/{pid}/task/{pid}/children') as f:
            return f.read().split()
    except OSError:
        return []


def wait_for(pred, what, timeout=DEADLINE):
    """Poll pred() every 20 ms until it returns something true; fail at the deadline.
    what: the text of the failure, or a function giving it then (a screen as it is
    at the deadline, not as it was when the wait began)."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError('timed out waiting for ' + (what() if callable(what) else what))
        time.sleep(0.02)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


class Server:
    """A ringexecd on a free loopback port (or a unix socket), stopped with SIGTERM."""

    def __init__(self, *extra, listen='ws://127.0.0.1:0', env=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [RINGEXECD, '--listen', listen, '--log-level', 'warn'] + list(extra),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=full_env, cwd=TMP)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode().strip() if ready else ''
        if not line:
            self.proc.kill()
            raise AssertionError('ringexecd printed no URL line')
        self.url = line

    def children(self):
        return kids(self.proc.pid)

    def runs(self, name):
        """A descendant of the server runs name."""
        todo = kids(self.proc.pid)
        while todo:
            pid = todo.pop()
            try:
                with open(f'/proc/{pid}/comm') as f:
                    if f.read().strip() == name:
                        return True
            except OSError:
                continue
            todo += kids(pid)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


SRV = None  # the server most cases share


def rx(*args, url=None, input=None, env=None, timeout=60, stdin=None):
    """Run ringexec to the end: (exit status, stdout bytes, stderr text)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith('RINGEXEC_')}
    full_env.update(env or {})
    cmd = [RINGEXEC] + (['--url', url or SRV.url] if url != '' else []) + list(args)
    p = subprocess.run(cmd, input=input, stdin=stdin if input is None else None,
                       capture_output=True, env=full_env, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode(errors='replace')


def one_line_error(err, pattern):
    lines = [l for l in err.splitlines() if l.strip()]
    check(len(lines) >= 1 and re.search(pattern, lines[0]),
          f'stderr {err!r} does not say /{pattern}/')
    check(lines[0].startswith('ringexec'), f'error line {lines[0]!r} does not name ringexec')


# ---- tmux ----

class Tmux:
    """One tmux server on its own socket, one window running a shell script."""

    def __init__(self, script, cols=80, rows=24):
        self.dir = tempfile.mkdtemp(dir=TMP)
        self.sock = os.path.join(self.dir, 'tmux.sock')
        self.conf = os.path.join(self.dir, 'tmux.conf')
        with open(self.conf, 'w') as f:
            # The screen stays readable after the script ends. (window-size in
            # a config file makes tmux 3.3a exit: it is set below instead.)
            f.write('set -g remain-on-exit on\n')
        path = os.path.join(self.dir, 'pane.sh')
        with open(path, 'w') as f:
            f.write(script)
        self.tmux('new-session', '-d', '-s', 't', '-x', str(cols), '-y', str(rows),
                  'sh ' + path)
        self.tmux('set-option', '-t', 't', 'window-size', 'manual')

    def tmux(self, *args):
        return subprocess.run(['tmux', '-S', self.sock, '-f', self.conf] + list(args),
                              capture_output=True, text=True, cwd=self.dir, timeout=10).stdout

    def screen(self):
        return self.tmux('capture-pane', '-p', '-t', 't')

    def wait_screen(self, pattern, what=None):
        return wait_for(lambda: re.search(pattern, self.screen(), re.M),
                        lambda: (what or repr(pattern)) + ' on the screen:\n' + self.screen())

    def keys(self, *keys):
        self.tmux('send-keys', '-t', 't', *keys)

    def file(self, name):
        p = os.path.join(self.dir, name)
        return open(p).read() if os.path.exists(p) else None

    def wait_file(self, name):
        return wait_for(lambda: self.file(name), lambda: name + ' to be written (screen:\n' +
                        self.screen() + ')')

    def pane_pid(self):
        return int(self.tmux('display-message', '-p', '-t', 't', '#{pane_pid}').strip())

    def pane_tty(self):
        return self.tmux('display-message', '-p', '-t', 't', '#{pane_tty}').strip()

    def close(self):
        self.tmux('kill-server')


def pane_script(cmdline):
    """sh: remember the terminal settings, run cmdline, then write its status and the settings."""
    return ("trap 'true' INT\nstty -g > before\n" + cmdline + '\n'
            'echo $? > status.tmp\nstty -g > after\nmv status.tmp status\n')


def ringexec_cmd(*args, url=None):
    return ' '.join([RINGEXEC, '--url', url or SRV.url] + ["'" + a + "'" for a in args])


def raw_on(tty):
    """tty is in raw mode (as cfmakeraw makes it; readline at a bash prompt keeps isig)."""
    out = subprocess.run(['stty', '-F', tty, '-a'], capture_output=True, text=True).stdout.split()
    return all(f in out for f in ('-icanon', '-echo', '-isig', '-opost'))


def child_of(pid, name):
    """The pid of pid's child running name, or None."""
    try:
        with open(f'/proc/{pid}/task/{pid}/children') as f:
            kids = f.read().split()
    except OSError:
        return None
    for k in kids:
        try:
            with open(f'/proc/{k}/comm') as f:
                if f.read().strip() == name:
                    return int(k)
        except OSError:
            pass
    return None


def bash_in_tmux():
    t = Tmux(pane_script(ringexec_cmd('run', '-t', '-e', 'PS1=cli$ ', '--', 'bash',
                                      '--norc', '--noprofile')))
    t.wait_screen(r'^cli\$', 'the remote prompt')
    return t


def case_tty_bash_types_and_reads():
    t = bash_in_tmux()
    try:
        t.keys('echo hello-$((6*7)) $(tty)', 'Enter')
        t.wait_screen(r'^hello-42 /dev/pts/\d+', 'the command output from a remote PTY')
        check(raw_on(t.pane_tty()), 'the local terminal is not in raw mode during the session')
        t.keys('C-d')
        check(t.wait_file('status').strip() == '0', 'ringexec did not exit 0 after Ctrl-D')
        check(t.file('before') == t.file('after'), 'stty -g differs after the session')
    finally:
        t.close()


def case_tty_resize_follows():
    t = bash_in_tmux()
    try:
        t.keys('stty size', 'Enter')
        t.wait_screen(r'^24 80$', 'stty size 24 80')
        t.tmux('resize-window', '-t', 't', '-x', '100', '-y', '30')
        wait_for(lambda: t.tmux('display-message', '-p', '-t', 't',
                                '#{window_width}x#{window_height}').strip() == '100x30',
                 'the window to be 100x30')
        t.keys('clear; stty size', 'Enter')
        t.wait_screen(r'^30 100$', 'stty size 30 100 after the resize')
        t.keys('exit 3', 'Enter')
        check(t.wait_file('status').strip() == '3', 'exit 3 did not pass through')
    finally:
        t.close()


def case_tty_ctrl_c_and_ctrl_d():
    t = bash_in_tmux()
    try:
        t.keys('sleep 100; echo after-sleep', 'Enter')
        wait_for(lambda: SRV.runs('sleep'), 'the remote sleep to start')
        t.keys('C-c')
        t.wait_screen(r'\^C', 'the ^C echoed by the remote PTY')
        t.keys('echo rc=$?', 'Enter')
        t.wait_screen(r'^rc=130$', 'the interrupted job status 130')
        check(not re.search(r'^after-sleep$', t.screen(), re.M), 'Ctrl-C did not stop the whole line')
        t.keys('C-d')
        check(t.wait_file('status').strip() == '0', 'ringexec did not exit 0 after Ctrl-D')
        check(t.file('before') == t.file('after'), 'stty -g differs after the session')
    finally:
        t.close()


def case_tty_every_byte_forwarded():
    # The remote reads raw bytes: ^A ^Z ^\ ^C and 'x' must reach it as bytes,
    # not become local signals.
    t = Tmux(pane_script(ringexec_cmd('run', '-t', '--', 'sh', '-c',
                                      'stty raw -echo; echo go; head -c 5 | od -An -tx1; '
                                      'stty sane')))
    try:
        t.wait_screen(r'go', 'the remote ready line')
        t.keys('C-a', 'C-z', 'C-\\', 'C-c', 'x')
        t.wait_screen(r'01 1a 1c 03 78', 'the five bytes as the remote read them')
        check(t.wait_file('status').strip() == '0', 'the remote sh did not exit 0')
    finally:
        t.close()


def kill_in_tmux(args, sig, want):
    srv = Server()  # its own: its children are this case's alone
    t = Tmux(pane_script(ringexec_cmd(*args, url=srv.url)))
    try:
        pid = wait_for(lambda: child_of(t.pane_pid(), 'ringexec'), 'ringexec to start')
        wait_for(lambda: srv.children(), 'the remote process to start')
        if '-t' in args:
            wait_for(lambda: raw_on(t.pane_tty()), 'raw mode')
        os.kill(pid, sig)
        st = t.wait_file('status').strip()
        check(st == str(want), f'exit status {st}, want {want}')
        check(t.file('before') == t.file('after'),
              'stty -g after the kill differs:\n%s%s' % (t.file('before'), t.file('after')))
        wait_for(lambda: not srv.children(), 'the remote process to get the signal and end')
    finally:
        t.close()
        srv.stop()


def case_tty_sigterm_restores_terminal():
    kill_in_tmux(['run', '-t', '--', 'sleep', '1000'], signal.SIGTERM, 143)


def case_tty_sighup_restores_terminal():
    kill_in_tmux(['run', '-t', '--', 'sleep', '1000'], signal.SIGHUP, 129)


def case_pipe_kill_leaves_terminal_as_it_was():
    kill_in_tmux(['run', '-i', '--', 'sleep', '1000'], signal.SIGTERM, 143)


def case_pipe_ctrl_c_in_a_terminal():
    t = Tmux(pane_script(ringexec_cmd('run', '--', 'sh', '-c', 'echo ready; exec sleep 100')))
    try:
        t.wait_screen(r'^ready$', 'the remote ready line')
        t.keys('C-c')
        check(t.wait_file('status').strip() == '130', 'Ctrl-C in pipe mode did not give 130')
    finally:
        t.close()


def case_tty_attach_detached_shell():
    code, out, err = rx('run', '-t', '--detach', '-e', 'PS1=att$ ', '--', 'bash', '--norc',
                        '--noprofile')
    check(code == 0, f'run --detach: {code} {err}')
    session, proc = out.decode().split()
    t = Tmux(pane_script(ringexec_cmd('attach', session, proc)))
    try:
        t.keys('Enter')
        t.wait_screen(r'^att\$', 'the detached shell prompt after attach')
        t.keys('echo attached-$((2+3))', 'Enter')
        t.wait_screen(r'^attached-5$', 'output typed through attach')
        t.keys('stty size', 'Enter')
        t.wait_screen(r'^24 80$', 'the attaching terminal size')
        t.keys('exit 4', 'Enter')
        check(t.wait_file('status').strip() == '4', 'attach did not pass exit 4 through')
        check(t.file('before') == t.file('after'), 'stty -g differs after attach')
    finally:
        t.close()


def proc_state(pid):
    with open(f'/proc/{pid}/stat') as f:
        return f.read().rsplit(')', 1)[1].split()[0]


def case_job_control():
    # A local interactive bash: Ctrl-Z stops ringexec (pipe mode), fg resumes it;
    # SIGTSTP to a -t ringexec gives the terminal back cooked while stopped.
    t = Tmux("PS1='local$ ' exec bash --norc --noprofile -i\n")
    try:
        t.wait_screen(r'^local\$', 'the local prompt')
        t.keys(ringexec_cmd('run', '--', 'sh', '-c', 'echo ready-1; exec sleep 100'), 'Enter')
        t.wait_screen(r'^ready-1$', 'the remote ready line')
        pid = wait_for(lambda: child_of(t.pane_pid(), 'ringexec'), 'ringexec')
        t.keys('C-z')
        t.wait_screen(r'Stopped', 'bash reporting the stopped job')
        check(proc_state(pid) == 'T', 'ringexec is not stopped after Ctrl-Z')
        t.keys('fg', 'Enter')
        wait_for(lambda: proc_state(pid) != 'T', 'ringexec to run again after fg')
        t.keys('C-c')
        t.keys('echo rc=$?', 'Enter')
        t.wait_screen(r'^rc=130$', 'status 130 after fg and Ctrl-C')

        t.keys('clear; ' + ringexec_cmd('run', '-t', '--', 'sh', '-c',
                                        'echo ready-2; exec sleep 100'), 'Enter')
        t.wait_screen(r'^ready-2', 'the remote ready line (-t)')
        pid = wait_for(lambda: child_of(t.pane_pid(), 'ringexec'), 'ringexec -t')
        wait_for(lambda: raw_on(t.pane_tty()), 'raw mode')
        os.kill(pid, signal.SIGTSTP)
        t.wait_screen(r'Stopped', 'bash reporting the stopped -t job')
        check(not raw_on(t.pane_tty()), 'the terminal stayed raw while ringexec is stopped')
        t.keys('fg', 'Enter')
        wait_for(lambda: raw_on(t.pane_tty()), 'raw mode again after fg')
        t.keys('C-c')  # a byte for the remote PTY now: its sleep gets SIGINT
        # Type the next command only once ringexec is gone: while it runs in
        # raw mode it would forward those keys to the remote PTY too.
        wait_for(lambda: not os.path.exists(f'/proc/{pid}') or proc_state(pid) == 'Z',
                 'ringexec -t to exit after Ctrl-C')
        t.keys('echo rc=$?', 'Enter')
        t.wait_screen(r'^rc=130$', 'status 130 from the remote PTY')
    finally:
        t.close()


# ---- pipe mode ----

def case_stdout_stderr_apart():
    code, out, err = rx('run', '--', 'sh', '-c', 'echo out1; echo err1 >&2; echo out2')
    check(code == 0, f'exit {code}')
    check(out == b'out1\nout2\n', f'stdout {out!r}')
    check(err == 'err1\n', f'stderr {err!r}')


def case_stdin_8mib_hashed():
    data = os.urandom(8 << 20)
    code, out, err = rx('run', '-i', '--', 'sha256sum', input=data)
    check(code == 0, f'exit {code} {err}')
    check(out.split()[0].decode() == hashlib.sha256(data).hexdigest(), 'sha256 differs')
    code, out, err = rx('run', '-i', '--', 'cat', input=data)
    check(code == 0 and out == data, f'cat round trip: exit {code}, {len(out)} bytes back')


def case_no_stdin_without_i():
    r, w = os.pipe()  # never closed by us: without -i ringexec must not wait on it
    try:
        code, out, err = rx('run', '--', 'cat', stdin=r, timeout=20)
    finally:
        os.close(r)
        os.close(w)
    check(code == 0 and out == b'', f'cat without -i: exit {code}, out {out!r}')


def case_exit_codes():
    for argv, want in ((['true'], 0), (['sh', '-c', 'exit 7'], 7),
                       (['sh', '-c', 'kill -9 $$'], 137), (['sh', '-c', 'kill -TERM $$'], 143)):
        code, _, err = rx('run', '--', *argv)
        check(code == want, f'{argv}: exit {code}, want {want} ({err})')


def case_sigint_is_interrupt():
    p = subprocess.Popen([RINGEXEC, '--url', SRV.url, 'run', '--', 'sh', '-c',
                          'echo ready; exec sleep 100'], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([p.stdout], [], [], DEADLINE)
        check(ready and p.stdout.readline() == b'ready\n', 'no ready line')
        p.send_signal(signal.SIGINT)
        check(p.wait(DEADLINE) == 130, f'exit {p.returncode}, want 130')
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
        p.stderr.close()


def case_start_failures():
    code, _, err = rx('run', '--', '/no/such/program')
    check(code == 127, f'missing program: exit {code}')
    one_line_error(err, r'/no/such/program: No such file or directory \(os error 2\)')
    code, _, err = rx('run', '--', '/etc/hostname')
    check(code == 126, f'not executable: exit {code}')
    one_line_error(err, r'/etc/hostname: .*\(os error (13|8)\)')
    code, _, err = rx('run', '-C', '/no/such/dir', '--', 'true')
    check(code == 125, f'missing cwd: exit {code}')
    one_line_error(err, r'working directory /no/such/dir: No such file or directory')
    code, _, err = rx('run')
    check(code == 125, f'no command: exit {code}')
    one_line_error(err, r'no command given')


def case_timeout():
    code, _, err = rx('run', '--timeout', '1', '--', 'sleep', '30')
    check(code == 124, f'exit {code}, want 124')
    one_line_error(err, r'timed out after 1 s')


def case_cwd():
    code, out, _ = rx('run', '-C', TMP, '--', 'pwd')
    check(code == 0 and out.decode().strip() == TMP, f'-C: {out!r}')
    os.makedirs(os.path.join(TMP, 'sub dir'), exist_ok=True)
    code, out, _ = rx('run', '-C', os.path.join(TMP, 'sub dir'), '--', 'pwd')
    check(out.decode().strip() == os.path.join(TMP, 'sub dir'), f'-C with a space: {out!r}')
    # Default and relative -C: from the server's working directory (TMP).
    code, out, _ = rx('run', '--', 'pwd')
    check(out.decode().strip() == TMP, f'default cwd {out!r}, want {TMP}')
    code, out, _ = rx('run', '-C', 'sub dir', '--', 'pwd')
    check(out.decode().strip() == os.path.join(TMP, 'sub dir'), f'relative -C: {out!r}')


def case_env_inherit():
    def env_of(*args):
        code, out, err = rx('run', *args, '--', '/usr/bin/env')
        check(code == 0, f'env: {code} {err}')
        return dict(l.split('=', 1) for l in out.decode().splitlines() if '=' in l)
    e = env_of('--env-inherit', 'none', '-e', 'A=1', '-e', 'B=two=2')
    check(e == {'A': '1', 'B': 'two=2'}, f'none: {e}')
    e = env_of('-e', 'A=1')  # default core
    check('PATH' in e and e.get('A') == '1', f'core: {e}')
    check('IT_CLI_MARK' not in e, 'core passed a name outside the core set')
    e = env_of('--env-inherit', 'all')
    check(e.get('IT_CLI_MARK') == 'mark', f'all: no IT_CLI_MARK in {sorted(e)}')
    check('IT_CLI_SECRET_TOKEN' not in e, 'all passed a *TOKEN* name')
    e = env_of('--env-inherit', 'all', '-e', 'IT_CLI_MARK=mine')
    check(e.get('IT_CLI_MARK') == 'mine', '-e does not win over the inherited value')
    code, out, _ = rx('run', '-e', 'IT_CLI_LOCAL', '--', 'sh', '-c', 'echo $IT_CLI_LOCAL',
                      env={'IT_CLI_LOCAL': 'from-here'})
    check(out == b'from-here\n', f'-e NAME did not take the local value: {out!r}')


def case_stdout_closed():
    srv = Server()
    try:
        p = subprocess.run(f"'{RINGEXEC}' --url {srv.url} run -- yes | head -c 4 >/dev/null; "
                           "echo ${PIPESTATUS[0]}", shell=True, executable='/bin/bash',
                           capture_output=True, text=True, timeout=60)
        check(p.stdout.strip() == '141', f'exit {p.stdout.strip()}, want 141 ({p.stderr})')
        wait_for(lambda: not srv.children(), 'the remote yes to be terminated')
    finally:
        srv.stop()


# ---- detach, attach, ps, kill ----

def detach(*argv):
    code, out, err = rx('run', '--detach', '--', *argv)
    check(code == 0, f'run --detach: exit {code} {err}')
    m = re.fullmatch(r'(' + UUID + r') (\S+)\n', out.decode())
    check(m, f'run --detach printed {out!r}')
    return m.group(1), m.group(2)


def case_detach_attach_replays():
    go = os.path.join(TMP, 'go')
    session, proc = detach('sh', '-c', f'echo first; while [ ! -e {go} ]; do sleep 0.02; done; '
                                       'echo second; exit 5')
    check(proc == 'sh', f'process id {proc!r}')
    p = subprocess.Popen([RINGEXEC, '--url', SRV.url, 'attach', session, proc],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([p.stdout], [], [], DEADLINE)
        check(ready and p.stdout.readline() == b'first\n', 'the missed output was not replayed')
        open(go, 'w').close()
        check(p.stdout.readline() == b'second\n', 'the following output did not come')
        check(p.wait(DEADLINE) == 5, f'attach exit {p.returncode}, want 5')
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
        p.stderr.close()
    # Again from seq 1: only what came after the first chunk.
    code, out, err = rx('attach', '--after-seq', '1', session)
    check(code == 5 and out == b'second\n', f'--after-seq 1: exit {code} out {out!r} {err}')


def case_attach_errors():
    code, _, err = rx('attach', '00000000-0000-4000-8000-000000000000', 'x')
    check(code == 125, f'unknown session: exit {code}')
    one_line_error(err, r'unknown session id 00000000-0000-4000-8000-000000000000')
    session, proc = detach('sh', '-c', 'echo up; exec sleep 100')
    p = subprocess.Popen([RINGEXEC, '--url', SRV.url, 'attach', session, proc],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([p.stdout], [], [], DEADLINE)
        check(ready and p.stdout.readline() == b'up\n', 'the first attach did not replay')
        code, _, err = rx('attach', session, proc, timeout=DEADLINE)
        check(code == 125, f'second attach exit {code}')
        one_line_error(err, r'session ' + session + ' is already attached')
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
        p.stderr.close()
    wait_for(lambda: rx('kill', '-s', 'KILL', '--session', session, proc)[0] == 0,
             'the session to be free again for kill')
    code, _, err = rx('attach', session, 'nope')
    check(code == 125, f'unknown process: exit {code}')
    one_line_error(err, r'no process nope in session ' + session)


def case_ps_and_kill():
    session, proc = detach('sleep', '100')
    code, out, err = rx('ps', '--session', session)
    check(code == 0, f'ps: {code} {err}')
    lines = out.decode().splitlines()
    check(lines[0].split()[:3] == ['PROCESS', 'STATE', 'EXIT'], f'ps header {lines[0]!r}')
    check(re.match(r'sleep\s+running\s+-\s+\d+\s+no\s+\S+\s+sleep 100$', lines[1]),
          f'ps line {lines[1]!r}')
    code, _, err = rx('kill', '-s', 'bogus', '--session', session, proc)
    check(code == 2, f'kill -s bogus: exit {code}')
    one_line_error(err, r"unknown signal 'bogus'")
    code, _, err = rx('kill', '-s', 'USR1', '--session', session, 'nope')
    check(code == 1, f'kill of an unknown process: exit {code}')
    one_line_error(err, r'no process nope in session')
    code, _, err = rx('kill', '--session', session, proc)
    check(code == 0, f'kill: {code} {err}')

    def exited():
        c, o, _ = rx('ps', env={'RINGEXEC_SESSION': session})
        return o.decode() if re.search(r'sleep\s+(exited|closed)\s+143 ', o.decode()) else None
    wait_for(exited, 'ps to show the process ended by SIGTERM (143)')
    code, _, err = rx('ps')
    check(code == 2, f'ps without a session: exit {code}')
    one_line_error(err, r'no session')


# ---- cp ----

def case_cp_both_ways():
    data = os.urandom(1 << 20)
    src = os.path.join(TMP, 'src.bin')
    with open(src, 'wb') as f:
        f.write(data)
    rdir = os.path.join(TMP, 'remote')
    os.makedirs(rdir, exist_ok=True)
    code, _, err = rx('cp', src, ':' + rdir + '/copy.bin')
    check(code == 0, f'cp up: {code} {err}')
    check(open(os.path.join(rdir, 'copy.bin'), 'rb').read() == data, 'uploaded bytes differ')
    code, _, err = rx('cp', src, ':' + rdir)  # into a directory: keeps the name
    check(code == 0 and open(os.path.join(rdir, 'src.bin'), 'rb').read() == data,
          f'cp into a remote directory: {code} {err}')
    ldir = os.path.join(TMP, 'local')
    os.makedirs(ldir, exist_ok=True)
    code, _, err = rx('cp', ':' + rdir + '/copy.bin', ldir)
    check(code == 0 and open(os.path.join(ldir, 'copy.bin'), 'rb').read() == data,
          f'cp down into a directory: {code} {err}')
    code, out, err = rx('cp', ':' + rdir + '/copy.bin', '-')
    check(code == 0 and out == data, f'cp to stdout: {code} {len(out)} bytes')
    code, _, err = rx('cp', '-', ':' + rdir + '/stdin.txt', input=b'from stdin\n')
    check(code == 0 and open(os.path.join(rdir, 'stdin.txt'), 'rb').read() == b'from stdin\n',
          f'cp from stdin: {code} {err}')


def case_cp_errors():
    code, _, err = rx('cp', ':/no/such/file', os.path.join(TMP, 'x'))
    check(code == 1, f'missing remote: exit {code}')
    one_line_error(err, r'cp: :/no/such/file: No such file or directory \(os error 2\)')
    code, _, err = rx('cp', '/etc/hostname', ':/no/such/dir/file')
    check(code == 1, f'missing remote parent: exit {code}')
    one_line_error(err, r'No such file or directory')
    code, _, err = rx('cp', '/no/local/file', ':/tmp/x')
    check(code == 1, f'missing local: exit {code}')
    one_line_error(err, r'/no/local/file: No such file or directory')
    code, _, err = rx('cp', 'a', 'b')
    check(code == 2, f'no remote side: exit {code}')
    one_line_error(err, r'exactly one side is :REMOTE')


# ---- health, URLs, tokens, errors ----

def case_health():
    code, out, err = rx('health')
    check(code == 0 and out.decode() == SRV.url + ': ok\n', f'health: {code} {out!r} {err}')
    code, out, err = rx('health', url=dead_url())
    check(code == 1, f'health of a dead server: exit {code}')
    one_line_error(err, r'Connection refused')


def dead_url():
    import socket
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return f'ws://127.0.0.1:{port}'


def case_connection_refused():
    code, _, err = rx('run', '--', 'true', url=dead_url())
    check(code == 125, f'exit {code}')
    one_line_error(err, r'cannot connect to ws://127\.0\.0\.1:\d+: connection refused')
    check(len(err.splitlines()) == 1, f'more than one line: {err!r}')
    code, _, err = rx('ps', '--session', 'x', url='http//nope')
    check(code == 1, f'bad URL: exit {code}')
    one_line_error(err, r"bad server URL 'http//nope'")


def case_url_from_environment():
    code, out, err = rx('run', '--', 'echo', 'via-env', url='', env={'RINGEXEC_URL': SRV.url})
    check(code == 0 and out == b'via-env\n', f'RINGEXEC_URL: {code} {out!r} {err}')


def case_unix_socket():
    sock = os.path.join(TMP, 'rx.sock')
    s = Server(listen='unix://' + sock)
    try:
        check(s.url == 'unix://' + sock, f'URL line {s.url}')
        code, out, err = rx('run', '--', 'echo', 'over-unix', url=s.url)
        check(code == 0 and out == b'over-unix\n', f'run over unix: {code} {out!r} {err}')
        code, out, err = rx('health', url=s.url)
        check(code == 0, f'health over unix: {code} {err}')
    finally:
        s.stop()


def case_token():
    tok = os.path.join(TMP, 'token')
    with open(tok, 'w') as f:
        f.write('s3cret-token\n')
    s = Server('--auth-token-file', tok)
    try:
        code, _, err = rx('run', '--', 'true', url=s.url)
        check(code == 125, f'no token: exit {code}')
        one_line_error(err, r'401 Unauthorized: the server needs a token')
        code, out, err = rx('run', '--', 'echo', 'ok', url=s.url,
                            env={'RINGEXEC_AUTH_TOKEN': 's3cret-token'})
        check(code == 0 and out == b'ok\n', f'RINGEXEC_AUTH_TOKEN: {code} {err}')
        code, out, err = rx('--token-file', tok, 'run', '--', 'echo', 'ok', url=s.url)
        check(code == 0 and out == b'ok\n', f'--token-file: {code} {err}')
        code, _, err = rx('run', '--', 'true', url=s.url, env={'RINGEXEC_AUTH_TOKEN': 'wrong'})
        check(code == 125, f'wrong token: exit {code}')
        one_line_error(err, r'401 Unauthorized: the server refused the token')
        code, _, err = rx('run', '--token-file', '/no/such/token', '--', 'true', url=s.url)
        check(code == 125, f'missing token file: exit {code}')
        one_line_error(err, r'token file /no/such/token: No such file or directory')
    finally:
        s.stop()


def case_help():
    for cmd in ('run', 'attach', 'ps', 'kill', 'cp', 'health'):
        code, out, err = rx(cmd, '--help', url='')
        check(code == 0 and out.decode().startswith('Usage: ringexec ' + cmd),
              f'{cmd} --help: {code} {out[:60]!r}')
        code2, out2, _ = rx('help', cmd, url='')
        check(code2 == 0 and out2 == out, f'help {cmd} differs from {cmd} --help')
    code, out, _ = rx('--help', url='')
    check(code == 0 and b'Commands:' in out, 'ringexec --help')
    code, _, err = rx('frobnicate', url='')
    check(code == 2, f'unknown command: exit {code}')
    one_line_error(err, r"unknown command 'frobnicate'")
    code, _, err = rx('run', '--bogus', '--', 'true')
    check(code == 125, f'run --bogus: exit {code}')
    one_line_error(err, r"unknown option '--bogus'")


CASES = [
    ('run -t: bash in tmux, a typed command runs in a remote PTY, raw mode on, Ctrl-D ends it',
     case_tty_bash_types_and_reads),
    ('run -t: stty size follows the window (24 80, then 30 100); exit 3 passes through',
     case_tty_resize_follows),
    ('run -t: Ctrl-C interrupts the remote job (130), the shell stays; Ctrl-D exits 0',
     case_tty_ctrl_c_and_ctrl_d),
    ('run -t: ^A ^Z ^\\ ^C x reach the remote as bytes', case_tty_every_byte_forwarded),
    ('run -t: SIGTERM to ringexec: 143, stty -g as before, remote terminated',
     case_tty_sigterm_restores_terminal),
    ('run -t: SIGHUP to ringexec: 129, stty -g as before, remote hung up',
     case_tty_sighup_restores_terminal),
    ('run -i in a terminal: SIGTERM: 143, stty -g as before', case_pipe_kill_leaves_terminal_as_it_was),
    ('run (pipe) in a terminal: Ctrl-C sends interrupt, exit 130', case_pipe_ctrl_c_in_a_terminal),
    ('attach -t: a detached bash, typed into from tmux, sized from it, exit 4',
     case_tty_attach_detached_shell),
    ('job control: Ctrl-Z stops ringexec, fg resumes it; -t gives the terminal back meanwhile',
     case_job_control),
    ('run: stdout and stderr stay apart', case_stdout_stderr_apart),
    ('run -i: 8 MiB of stdin arrive whole (sha256, and a cat round trip)', case_stdin_8mib_hashed),
    ('run without -i: the child has no stdin (an open pipe is not read)', case_no_stdin_without_i),
    ('run: exit statuses 0, 7, 137, 143 pass through', case_exit_codes),
    ('run: SIGINT to ringexec sends interrupt: 130', case_sigint_is_interrupt),
    ('run: start failures print the server message and exit 127/126/125', case_start_failures),
    ('run --timeout: killed, message, 124', case_timeout),
    ('run -C: absolute, with a space; default cwd is the server\'s', case_cwd),
    ('run --env-inherit none/core/all and -e', case_env_inherit),
    ('run: our stdout closed: 141 and the remote terminated', case_stdout_closed),
    ('run --detach, attach: missed output replayed, then followed; --after-seq',
     case_detach_attach_replays),
    ('attach: unknown session, attached elsewhere, unknown process', case_attach_errors),
    ('ps and kill: list, bad signal, unknown process, SIGTERM shows 143', case_ps_and_kill),
    ('cp: up, down, into directories, stdin/stdout', case_cp_both_ways),
    ('cp: errors are one line and exit 1 or 2', case_cp_errors),
    ('health: ok from /readyz; connection refused', case_health),
    ('errors: connection refused, bad URL', case_connection_refused),
    ('RINGEXEC_URL names the server', case_url_from_environment),
    ('unix:// server: run and health', case_unix_socket),
    ('token: 401 without, works with RINGEXEC_AUTH_TOKEN and --token-file, wrong token',
     case_token),
    ('--help for every command; unknown command and option', case_help),
]


TMUX_CASES = {case_tty_bash_types_and_reads, case_tty_resize_follows,
              case_tty_ctrl_c_and_ctrl_d, case_tty_every_byte_forwarded,
              case_tty_sigterm_restores_terminal, case_tty_sighup_restores_terminal,
              case_pipe_kill_leaves_terminal_as_it_was, case_pipe_ctrl_c_in_a_terminal,
              case_tty_attach_detached_shell, case_job_control}


def main():
    global SRV
    if not RINGEXECD or not RINGEXEC:
        print('1..0 # SKIP RINGEXECD and RINGEXEC must name the binaries')
        return 0
    only = sys.argv[1:]
    cases = [c for c in CASES if not only or any(o in c[1].__name__ for o in only)]
    print(f'1..{len(cases)}', flush=True)
    SRV = Server(env={'IT_CLI_MARK': 'mark', 'IT_CLI_SECRET_TOKEN': 'hidden'})
    failed = 0
    try:
        for n, (name, fn) in enumerate(cases, 1):
            if not shutil.which('tmux') and fn in TMUX_CASES:
                print(f'ok {n} - {name} # SKIP tmux is not installed', flush=True)
                continue
            try:
                fn()
                print(f'ok {n} - {name}', flush=True)
            except Exception as e:  # noqa: BLE001 (a case's failure of any kind)
                failed += 1
                print(f'not ok {n} - {name}', flush=True)
                for line in (str(e) or traceback.format_exc()).splitlines():
                    print('# ' + line, flush=True)
    finally:
        SRV.stop()
        shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
