import fs from 'node:fs/promises';

// CPU time from /proc (Linux): a server's, to print CPU per request or run beside latencies (it is
// steadier on a small or shared machine), and the whole machine's, to tell whether other work ran
// beside the benchmark. Everything is undefined off Linux.

const clockTicks = 100; // USER_HZ: /proc reports CPU time in these on every mainstream Linux build

/** A process's user + system CPU time in µs. */
export async function cpuMicros(pid: number): Promise<number | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after the ")" that ends field 2.
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / clockTicks;
  } catch {
    return undefined;
  }
}

/**
 * CPU time of a process and its children in µs: its own and that of the children it has reaped,
 * plus that of its live children. For a database server's main process (PostgreSQL's postmaster)
 * this counts every backend and parallel worker, also those that came and went in between.
 */
export async function processTreeMicros(rootPid: number): Promise<number | undefined> {
  const fieldsOf = async (pid: string | number) => {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    // From field 3 on, counted after the ")" that ends field 2: ppid is field 4, utime…cstime 14–17.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  };
  try {
    const root = await fieldsOf(rootPid);
    let ticks = Number(root[11]) + Number(root[12]) + Number(root[13]) + Number(root[14]);
    for (const entry of await fs.readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const fields = await fieldsOf(entry).catch(() => undefined);
      if (fields && Number(fields[1]) === rootPid) ticks += Number(fields[11]) + Number(fields[12]);
    }
    return (ticks * 1e6) / clockTicks;
  } catch {
    return undefined;
  }
}

/** A process's parent pid (Linux), or undefined. */
export async function parentPid(pid: number): Promise<number | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/**
 * CPU time of the whole machine (busy, including hypervisor steal, and total) and of this
 * benchmark's own processes (this one, its reaped children, the servers), in µs.
 * The difference tells how much other work ran beside the benchmark.
 */
export async function cpuAccount(serverPids: number[]): Promise<{ busy: number; total: number; own: number } | undefined> {
  try {
    const [stat, self] = await Promise.all([fs.readFile('/proc/stat', 'utf8'), fs.readFile('/proc/self/stat', 'utf8')]);
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
    const [user, nice, system, idle, iowait, irq, softirq, steal] = stat.split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
    const busy = user! + nice! + system! + irq! + softirq! + steal!;
    const fields = self.slice(self.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime: fields 14–17 (children count once they have been waited for).
    let own = ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1e6) / clockTicks;
    for (const pid of serverPids) own += (await cpuMicros(pid)) ?? 0;
    return { busy: (busy * 1e6) / clockTicks, total: ((busy + idle! + iowait!) * 1e6) / clockTicks, own };
  } catch {
    return undefined;
  }
}

/**
 * The share (%) of the machine's CPU time between two accounts that went to other work: busy time
 * less this benchmark's own, and less `extraOwnMicros` of its own counted elsewhere (database
 * server processes that served it).
 */
export function otherWorkShare(
  before: { busy: number; total: number; own: number }, after: { busy: number; total: number; own: number }, extraOwnMicros = 0,
): number {
  const other = Math.max(0, after.busy - before.busy - (after.own - before.own) - extraOwnMicros);
  return (100 * other) / Math.max(1, after.total - before.total);
}
