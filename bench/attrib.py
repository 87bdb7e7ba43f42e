#!/usr/bin/env python3
"""bench/attrib.py — where an open-loop run's tail latency went (issue 18).

Two steps around one featd-bench run (Python 3 standard library only):

  attrib.py sample --out S.json --redis-port P [--admin-port A] \
      [--pid featd=PID] [--pid redis=PID] [--find featd-bench] [--interval 0.1]
      Samples until SIGTERM/SIGINT (or --seconds): /proc/pressure/{cpu,memory,io},
      /proc/vmstat (faults, reclaim scans/steals, THP, compaction) and, per
      process, /proc/PID/task/*/schedstat (CPU and run-queue wait) and
      /proc/PID/stat (faults). At the start it sets Redis's
      latency-monitor-threshold (--latency-ms, 1) and resets LATENCY (and,
      with --redis-resetstat, INFO's stats); at the start and the end it
      reads Redis INFO and featd's /metrics; at the end LATENCY LATEST and
      HISTORY, then restores the threshold. --find NAME follows processes
      called NAME started by the sampler's parent (featd-bench starts after
      the sampler).

  attrib.py report S.json --bench FB.json [--baseline RB.json] [--title T]
      Prints one markdown attribution table: the p99 of the run split into
      generator send lag, featd (server-side, Redis round trip, phases when
      featd exports featd_request_phase_seconds), Redis (its own LATENCY
      events and command percentiles, and the Redis-alone run of the same
      generator when --baseline is given) and the host (pressure stall
      time, run-queue waits, faults, reclaim), then which of them moved
      during the requests featd-bench listed as stalls.

Nothing here changes featd; the Redis settings it touches are restored.
"""
import argparse
import json
import os
import re
import signal
import socket
import sys
import time
import urllib.request

VMSTAT_KEYS = re.compile(r'^(pgfault|pgmajfault|pgscan\w*|pgsteal\w*|thp_\w*|compact_stall|'
                         r'allocstall\w*|pswpin|pswpout|workingset_refault\w*)$')


# ---- a small RESP client (one connection, blocking) ----

class Redis:
    def __init__(self, host, port, timeout=2.0):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = b''

    def _line(self):
        while b'\r\n' not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError('redis closed the connection')
            self.buf += chunk
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def _read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b'+':
            return rest.decode()
        if kind == b'-':
            return RuntimeError(rest.decode())
        if kind == b':':
            return int(rest)
        if kind == b'$':
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.s.recv(65536)
                if not chunk:
                    raise ConnectionError('redis closed the connection')
                self.buf += chunk
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode(errors='replace')
        if kind == b'*':
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ValueError('bad RESP line %r' % line)

    def cmd(self, *args):
        out = [b'*%d\r\n' % len(args)]
        for a in args:
            a = str(a).encode()
            out.append(b'$%d\r\n%s\r\n' % (len(a), a))
        self.s.sendall(b''.join(out))
        return self._read()


def redis_info(r):
    info = {}
    text = r.cmd('INFO', 'all')
    if isinstance(text, str):
        for line in text.splitlines():
            if ':' in line and not line.startswith('#'):
                k, v = line.split(':', 1)
                info[k] = v
    return info


# ---- /proc ----

def read_psi():
    out = {}
    for res in ('cpu', 'memory', 'io'):
        try:
            with open('/proc/pressure/' + res) as f:
                for line in f:
                    kind, *fields = line.split()
                    for fld in fields:
                        if fld.startswith('total='):
                            out['%s_%s' % (res, kind)] = int(fld[6:])
        except OSError:
            pass
    return out


def read_vmstat():
    out = {}
    try:
        with open('/proc/vmstat') as f:
            for line in f:
                k, v = line.split()
                if VMSTAT_KEYS.match(k):
                    out[k] = int(v)
    except OSError:
        pass
    return out


def read_proc(pid):
    """CPU and run-queue wait (ns, summed over threads), faults, or None."""
    d = {'pid': pid, 'run_ns': 0, 'wait_ns': 0, 'slices': 0}
    try:
        for tid in os.listdir('/proc/%d/task' % pid):
            try:
                with open('/proc/%d/task/%s/schedstat' % (pid, tid)) as f:
                    run, wait, slices = (int(x) for x in f.read().split()[:3])
                d['run_ns'] += run
                d['wait_ns'] += wait
                d['slices'] += slices
            except (OSError, ValueError):
                pass
        with open('/proc/%d/stat' % pid) as f:
            st = f.read().rsplit(')', 1)[1].split()
        d['minflt'], d['majflt'] = int(st[7]), int(st[9])
    except (OSError, ValueError, IndexError):
        return None
    return d


def find_children(name, ancestor):
    """Pids of processes called name that descend from ancestor."""
    found = []
    for p in os.listdir('/proc'):
        if not p.isdigit():
            continue
        try:
            with open('/proc/%s/comm' % p) as f:
                if f.read().strip() != name:
                    continue
            q = int(p)
            for _ in range(8):
                with open('/proc/%d/stat' % q) as f:
                    q = int(f.read().rsplit(')', 1)[1].split()[1])
                if q == ancestor:
                    found.append(int(p))
                    break
                if q <= 1:
                    break
        except (OSError, ValueError):
            continue
    return found


# ---- featd /metrics ----

def read_metrics(port):
    """{family: {labels (without le): {le: count}}} for the histograms."""
    if not port:
        return None
    try:
        with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=2) as resp:
            text = resp.read().decode(errors='replace')
    except OSError:
        return None
    hists = {}
    pat = re.compile(r'^(\w+)_bucket\{(.*)\}\s+(\S+)$')
    for line in text.splitlines():
        m = pat.match(line)
        if not m:
            continue
        fam, labels, val = m.groups()
        le = re.search(r'le="([^"]*)"', labels).group(1)
        rest = ','.join(x for x in re.findall(r'\w+="[^"]*"', labels) if not x.startswith('le='))
        hists.setdefault(fam, {}).setdefault(rest, {})
        bucket = hists[fam][rest]
        bucket[le] = bucket.get(le, 0) + float(val)
    return hists


# ---- sample ----

def cmd_sample(a):
    pids = {}
    for spec in a.pid:
        name, pid = spec.split('=', 1)
        pids[name] = int(pid)
    ancestor = os.getppid()
    r = None
    old_threshold = None
    try:
        r = Redis('127.0.0.1', a.redis_port)
        got = r.cmd('CONFIG', 'GET', 'latency-monitor-threshold')
        old_threshold = got[1] if isinstance(got, list) and len(got) == 2 else None
        r.cmd('CONFIG', 'SET', 'latency-monitor-threshold', a.latency_ms)
        r.cmd('LATENCY', 'RESET')
        if a.redis_resetstat:
            r.cmd('CONFIG', 'RESETSTAT')
    except (OSError, ValueError) as e:
        print('attrib: redis: %s' % e, file=sys.stderr)
        r = None
    out = {'interval_s': a.interval, 'latency_threshold_ms': a.latency_ms,
           'redis_info_start': redis_info(r) if r else {},
           'metrics_start': read_metrics(a.admin_port), 'samples': []}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    t_end = time.time() + a.seconds if a.seconds else None
    while not stop and (t_end is None or time.time() < t_end):
        for name in a.find:
            if name not in pids or read_proc(pids[name]) is None:
                kids = find_children(name, ancestor)
                if kids:
                    pids[name] = kids[0]
        procs = {}
        for name, pid in pids.items():
            d = read_proc(pid)
            if d:
                procs[name] = d
        out['samples'].append({'t': time.time(), 'psi': read_psi(), 'vm': read_vmstat(), 'procs': procs})
        time.sleep(a.interval)
    out['metrics_end'] = read_metrics(a.admin_port)
    if r:
        out['redis_info_end'] = redis_info(r)
        latest = r.cmd('LATENCY', 'LATEST')
        out['redis_latency'] = {}
        for ev in latest if isinstance(latest, list) else []:
            hist = r.cmd('LATENCY', 'HISTORY', ev[0])
            out['redis_latency'][ev[0]] = {'latest_ms': ev[2], 'max_ms': ev[3],
                                           'history': hist if isinstance(hist, list) else []}
        if old_threshold is not None:
            r.cmd('CONFIG', 'SET', 'latency-monitor-threshold', old_threshold)
    with open(a.out, 'w') as f:
        json.dump(out, f)


# ---- report ----

def hist_delta_pct(start, end, fam, p, match=''):
    """Quantile p (0..100) of a featd histogram between two scrapes: the upper
    bound of the bucket it falls in, in microseconds; None without data."""
    if not end or fam not in end:
        return None, 0
    for labels, b1 in end[fam].items():
        if labels != match:
            continue
        b0 = ((start or {}).get(fam) or {}).get(labels, {})
        les = sorted(b1, key=lambda x: float('inf') if x == '+Inf' else float(x))
        total = b1.get('+Inf', 0) - b0.get('+Inf', 0)
        if total <= 0:
            return None, 0
        want = p / 100.0 * total
        for le in les:
            if b1[le] - b0.get(le, 0) >= want:
                return (None if le == '+Inf' else float(le) * 1e6), total
        return None, total
    return None, 0


def fmt_us(us):
    if us is None:
        return 'n/a'
    return '%.3f ms' % (us / 1000.0)


def rate(samples, getter):
    """(total delta, per second) of a counter over the samples that have it
    (a process found after the sampler started has fewer)."""
    have = [s for s in samples if getter(s) is not None]
    if len(have) < 2:
        return 0, 0.0
    v0, v1 = getter(have[0]), getter(have[-1])
    dt = have[-1]['t'] - have[0]['t']
    return v1 - v0, (v1 - v0) / dt if dt > 0 else 0.0


def proc_get(name, key):
    return lambda s: s['procs'].get(name, {}).get(key)


def stall_windows(samples, stalls):
    """Indexes i of the sample intervals [t_i, t_i+1] that overlap a stall."""
    hit = set()
    for ev in stalls:
        t0 = ev[0] / 1000.0
        t1 = t0 + ev[1] / 1e6
        for i in range(len(samples) - 1):
            if samples[i]['t'] <= t1 and samples[i + 1]['t'] >= t0:
                hit.add(i)
    return hit


def indicators(samples, names):
    """Per-interval signals: name -> list of values (one per interval)."""
    sig = {}

    def add(label, fn):
        vals = []
        for i in range(len(samples) - 1):
            a, b = fn(samples[i]), fn(samples[i + 1])
            vals.append((b - a) if a is not None and b is not None else 0)
        sig[label] = vals

    add('memory pressure (PSI some)', lambda s: s['psi'].get('memory_some'))
    add('io pressure (PSI some)', lambda s: s['psi'].get('io_some'))
    add('reclaim scans (pgscan*)',
        lambda s: sum(v for k, v in s['vm'].items() if k.startswith('pgscan') and '_' in k and
                      not k.endswith(('_anon', '_file'))))
    add('major faults (host)', lambda s: s['vm'].get('pgmajfault'))
    add('compaction stalls', lambda s: s['vm'].get('compact_stall'))
    for n in names:
        add('%s run-queue wait >= 1 ms' % n,
            lambda s, n=n: s['procs'][n]['wait_ns'] // 1000000 if n in s['procs'] else None)
        add('%s page faults' % n, lambda s, n=n: s['procs'][n]['minflt'] + s['procs'][n]['majflt']
            if n in s['procs'] else None)
    return sig


def cmd_report(a):
    with open(a.samples) as f:
        S = json.load(f)
    with open(a.bench) as f:
        B = json.load(f)
    base = None
    if a.baseline:
        with open(a.baseline) as f:
            base = json.load(f)
    samples = S.get('samples', [])
    dur = samples[-1]['t'] - samples[0]['t'] if len(samples) > 1 else 0
    names = sorted({n for s in samples for n in s['procs']})
    m0, m1 = S.get('metrics_start'), S.get('metrics_end')
    lat = B.get('latency_us', {})
    lag = B.get('send_lag_us', {})
    svc = B.get('service_us', {})
    stalls = B.get('stalls', {})
    e2e = lat.get('p99', 0) or 0
    rows = []

    def row(what, p99, evidence):
        share = '%.0f%%' % (100.0 * p99 / e2e) if p99 is not None and e2e > 0 else ''
        rows.append('| %s | %s | %s | %s |' % (what, fmt_us(p99), share, evidence))

    row('**end to end** (featd-bench, from the intended send)', e2e,
        'p50 %s, p99.9 %s, max %s; %d requests over %s' % (
            fmt_us(lat.get('p50')), fmt_us(lat.get('p999')), fmt_us(lat.get('max')),
            stalls.get('count', 0), fmt_us(stalls.get('threshold_us'))))
    row('generator: send lag (sent late: its own wake-up, or no free connection)', lag.get('p99'),
        'p50 %s, max %s' % (fmt_us(lag.get('p50')), fmt_us(lag.get('max'))))
    row('service: actual send to answer', svc.get('p99'),
        'p50 %s, p99.9 %s' % (fmt_us(svc.get('p50')), fmt_us(svc.get('p999'))))
    req99, nreq = hist_delta_pct(m0, m1, 'featd_request_latency_seconds', 99)
    red99, _ = hist_delta_pct(m0, m1, 'featd_redis_latency_seconds', 99)
    if nreq:
        row('featd: server-side request time (/metrics, bucket bound)', req99, '%d requests in the window' % nreq)
        row('featd: its Redis round trip (/metrics, bucket bound)', red99,
            'featd time outside Redis at p99: %s' % (
                'within one bucket' if req99 and red99 and req99 <= red99
                else '<= ' + fmt_us(req99 - red99 if req99 and red99 else None)))
        phases = sorted(((m1 or {}).get('featd_request_phase_seconds') or {}).keys())
        for ph in phases:
            p99, n = hist_delta_pct(m0, m1, 'featd_request_phase_seconds', 99, ph)
            row('featd phase %s' % ph.split('=', 1)[-1].strip('"'), p99, '%d samples' % n)
        if not phases:
            rows.append('| featd phases | | | featd does not export featd_request_phase_seconds |')
    elif m1 is None:
        rows.append('| featd /metrics | | | not read (no --admin-port, or not reachable) |')
    if base:
        bl = base.get('latency_us', {})
        row('Redis alone: same generator, %s' % base.get('target', 'redis'), bl.get('p99'),
            'p50 %s, send lag p99 %s; featd p99 / Redis-alone p99 = **%s**' % (
                fmt_us(bl.get('p50')), fmt_us(base.get('send_lag_us', {}).get('p99')),
                '%.2f' % (e2e / bl['p99']) if bl.get('p99') else 'n/a'))
    info0, info1 = S.get('redis_info_start', {}), S.get('redis_info_end', {})
    for cmd in ('mget', 'get'):
        pcts = info1.get('latency_percentiles_usec_' + cmd)
        if pcts:
            d = dict(x.split('=') for x in pcts.split(','))
            row('Redis: %s execution inside Redis (INFO latencystats%s)' % (
                cmd.upper(), '' if a.resetstat_known else ', since its last reset'),
                float(d.get('p99', 0)), 'p50 %s us, p99.9 %s us' % (d.get('p50'), d.get('p99.9')))
    evs = S.get('redis_latency', {})
    if evs:
        desc = '; '.join('%s: %d over %d ms, max %d ms' % (
            k, len(v.get('history', [])), S.get('latency_threshold_ms', 0), v.get('max_ms', 0))
            for k, v in sorted(evs.items()))
        row('Redis: LATENCY events', max(v.get('max_ms', 0) for v in evs.values()) * 1000.0, desc)
    else:
        rows.append('| Redis: LATENCY events | | | none over %s ms |' % S.get('latency_threshold_ms'))
    for key in ('expired_keys', 'evicted_keys', 'total_forks', 'lazyfreed_objects'):
        if key in info1 and key in info0:
            try:
                d = int(info1[key]) - int(info0[key])
            except ValueError:
                continue
            if d:
                rows.append('| Redis: %s | | | +%d during the run |' % (key, d))
    if info1.get('used_memory_human'):
        rows.append('| Redis: memory | | | used_memory %s, rss %s, fragmentation %s |' % (
            info1.get('used_memory_human'), info1.get('used_memory_rss_human'),
            info1.get('mem_fragmentation_ratio')))
    # host
    for res, label in (('cpu_some', 'CPU'), ('memory_some', 'memory (some)'),
                       ('memory_full', 'memory (full)'), ('io_some', 'io (some)')):
        tot, per_s = rate(samples, lambda s, k=res: s['psi'].get(k))
        if samples and res in samples[0]['psi']:
            rows.append('| host: %s pressure stall | | | %.1f ms per second (%.1f ms in %.1f s) |' % (
                label, per_s / 1000.0, tot / 1000.0, dur))
    vm = {}
    if len(samples) > 1:
        for k in samples[-1]['vm']:
            d = samples[-1]['vm'][k] - samples[0]['vm'].get(k, 0)
            if d:
                vm[k] = d
    rows.append('| host: /proc/vmstat deltas | | | %s |' % (
        ', '.join('%s +%d' % kv for kv in sorted(vm.items())) or 'none'))
    for n in names:
        run, run_s = rate(samples, proc_get(n, 'run_ns'))
        wait, wait_s = rate(samples, proc_get(n, 'wait_ns'))
        sl, _ = rate(samples, proc_get(n, 'slices'))
        mi, _ = rate(samples, proc_get(n, 'minflt'))
        ma, _ = rate(samples, proc_get(n, 'majflt'))
        rows.append('| %s: CPU / run-queue wait | | | %.2f cores; waited %.1f ms per second for a CPU '
                    '(%.1f us per time slice); %d minor, %d major faults |' % (
                        n, run_s / 1e9, wait_s / 1e6, wait / 1000.0 / sl if sl else 0, mi, ma))
    # stalls vs signals
    evlist = stalls.get('events', [])
    corr = []
    if evlist and len(samples) > 2:
        hit = stall_windows(samples, evlist)
        sig = indicators(samples, names)
        n_int = len(samples) - 1
        for label, vals in sig.items():
            moved = [i for i, v in enumerate(vals) if v >= 1]
            if not moved:
                continue
            in_stall = len(hit & set(moved))
            corr.append('| %s | %d of %d | %d of %d |' % (label, in_stall, len(hit), len(moved), n_int))
        revs = [h for v in evs.values() for h in v.get('history', [])]
        if revs:
            near = 0
            for ev in evlist:
                t0 = ev[0] / 1000.0
                if any(t0 - 1.5 <= h[0] <= t0 + ev[1] / 1e6 + 1.5 for h in revs):
                    near += 1
            corr.append('| Redis LATENCY event within 1.5 s (1 s resolution) | %d of %d stalls | %d events |' % (
                near, len(evlist), len(revs)))
    title = a.title or 'attribution'
    print('#### %s\n' % title)
    print('Sampled every %.2f s for %.1f s. Shares are of the end-to-end p99; percentiles from featd\'s '
          '/metrics are bucket upper bounds.\n' % (S.get('interval_s', 0), dur))
    print('| where | p99 | share | evidence |\n|---|---:|---:|---|')
    print('\n'.join(rows))
    if evlist:
        print('\nStalls (requests over %s: %d, featd-bench listed a sample of %d): the sampled intervals '
              'they overlap, against all intervals, for each signal that moved.\n' % (
                  fmt_us(stalls.get('threshold_us')), stalls.get('count', 0), len(evlist)))
        print('| signal | intervals with a stall where it moved | all intervals where it moved |\n|---|---:|---:|')
        print('\n'.join(corr) if corr else '| (no signal moved) | | |')
    print('\n%s' % verdict(B, base, req99, red99, evs, samples, names, dur))


def verdict(B, base, req99, red99, evs, samples, names, dur):
    e2e = B.get('latency_us', {}).get('p99', 0) or 0
    lag = B.get('send_lag_us', {}).get('p99', 0) or 0
    if not e2e:
        return 'No verdict: the run measured nothing.'
    parts = []
    if lag > 0.5 * e2e:
        parts.append('the generator sent late (send-lag p99 %s of %s): the tail is the generator\'s or '
                     'no connection was free' % (fmt_us(lag), fmt_us(e2e)))
    bl = (base or {}).get('latency_us', {}).get('p99')
    if bl:
        if bl >= 0.7 * e2e:
            parts.append('Redis alone has the same tail (%s vs featd %s): the stall is below featd '
                         '(Redis or the host)' % (fmt_us(bl), fmt_us(e2e)))
        else:
            parts.append('featd adds to the tail (%s vs Redis alone %s)' % (fmt_us(e2e), fmt_us(bl)))
    if evs:
        mx = max(v.get('max_ms', 0) for v in evs.values())
        parts.append('Redis itself logged events up to %d ms (%s)' % (mx, ', '.join(sorted(evs))))
    svc = B.get('service_us', {}).get('p99', 0) or 0
    if req99 and svc > 2 * req99:
        parts.append('most of the p99 is outside featd\'s request timer (service p99 %s vs featd\'s %s: '
                     'socket queues, waiting for a CPU, the generator)' % (fmt_us(svc), fmt_us(req99)))
    if req99 and red99 and red99 >= 0.7 * req99:
        parts.append('inside featd the Redis round trip is most of the p99 (%s of %s)' % (
            fmt_us(red99), fmt_us(req99)))
    for n in names:
        wait, wait_s = rate(samples, proc_get(n, 'wait_ns'))
        if wait_s / 1e6 > 50:
            parts.append('%s waited %.0f ms per second for a CPU' % (n, wait_s / 1e6))
    if len(samples) > 1:
        mem = samples[-1]['psi'].get('memory_some', 0) - samples[0]['psi'].get('memory_some', 0)
        if dur and mem / dur / 1000.0 > 1:
            parts.append('memory pressure stalled tasks %.1f ms per second' % (mem / dur / 1000.0))
    return 'Verdict: ' + ('; '.join(parts) if parts else 'no single cause stands out') + '.'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('sample')
    s.add_argument('--out', required=True)
    s.add_argument('--redis-port', type=int, required=True)
    s.add_argument('--admin-port', type=int, default=0)
    s.add_argument('--pid', action='append', default=[], help='NAME=PID')
    s.add_argument('--find', action='append', default=[], help='process name started by our parent')
    s.add_argument('--interval', type=float, default=0.1)
    s.add_argument('--seconds', type=float, default=0)
    s.add_argument('--latency-ms', type=int, default=1)
    s.add_argument('--redis-resetstat', action='store_true')
    r = sub.add_parser('report')
    r.add_argument('samples')
    r.add_argument('--bench', required=True, help="featd-bench --json output of the run")
    r.add_argument('--baseline', help='featd-bench --redis ... --json output at the same rate')
    r.add_argument('--title')
    r.add_argument('--resetstat-known', action='store_true',
                   help='the sampler ran with --redis-resetstat (latencystats cover the run only)')
    a = ap.parse_args()
    return cmd_sample(a) if a.cmd == 'sample' else cmd_report(a)


if __name__ == '__main__':
    sys.exit(main())
