/**
 * Who holds something in a store: a process identified well enough that
 * several hosts, containers and pid namespaces sharing one store never mistake
 * each other. A pid alone means nothing across hosts or pid namespaces, and a
 * hostname is shared by containers, so the identity also carries the kernel's
 * boot id and the pid namespace's inode, plus the process's start time (which
 * tells a reused pid from the original).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

export interface Owner {
  /** Unique name of this holder, safe in file names: host-boot-pidns-pid-random. */
  id: string;
  host: string;
  /** /proc/sys/kernel/random/boot_id, '' where unknown (not Linux). */
  boot: string;
  /** inode of /proc/self/ns/pid, '' where unknown. */
  pidns: string;
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/PID/stat field 22), '' where unknown. */
  pidStart: string;
}

let self: Owner | undefined;

export function currentOwner(): Owner {
  if (self && self.pid === process.pid) return self;
  const host = hostname();
  const boot = readText('/proc/sys/kernel/random/boot_id');
  const pidns = /\[(\d+)\]/.exec(readLink('/proc/self/ns/pid'))?.[1] ?? '';
  const pidStart = processStart(process.pid);
  const safeHost = host.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40) || 'host';
  const id = [safeHost, boot.slice(0, 8) || 'noboot', pidns || 'nons', process.pid, randomBytes(3).toString('hex')].join('-');
  self = { id, host, boot, pidns, pid: process.pid, pidStart };
  return self;
}

/**
 * True only when `owner` is provably gone: it ran on this very kernel (same
 * host, boot id and pid namespace) and its pid no longer exists or now belongs
 * to a process started at another time. Anything else (another host, another
 * container, no /proc) is never judged dead here; only its lease can expire.
 */
export function provablyDead(owner: Partial<Owner> | undefined): boolean {
  const me = currentOwner();
  if (!owner || !me.boot || !me.pidns || !owner.pid) return false;
  if (owner.host !== me.host || owner.boot !== me.boot || owner.pidns !== me.pidns) return false;
  const start = processStart(owner.pid);
  if (start === '') return true;
  return owner.pidStart !== undefined && owner.pidStart !== '' && owner.pidStart !== start;
}

function processStart(pid: number): string {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return '';
  // the command name (field 2) may hold spaces and parentheses: fields resume after the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? '';
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function readLink(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

/**
 * For names that embed an owner id (temp dirs, temp files): true only when the
 * id names a process of this kernel and pid namespace whose pid is gone.
 */
export function ownerIdProvablyDead(id: string): boolean {
  const parts = id.split('-');
  const mine = currentOwner().id.split('-');
  if (parts.length < 5 || !/^\d+$/.test(parts.at(-2)!)) return false;
  const same = parts.slice(0, -2).join('-') === mine.slice(0, -2).join('-');
  if (!same || !currentOwner().boot || !currentOwner().pidns) return false;
  return processStart(Number(parts.at(-2))) === '';
}
