/**
 * A task's events folded into what the UI shows: a phase, a status line, a fraction done,
 * download bytes per package, link counts. Plain state, no rendering.
 */
import { trans } from './i18n';
import { IPlan, ITaskEvent } from './types';

export interface IDownload {
  bytes: number;
  total: number | null;
  done: boolean;
}

export type Phase =
  | 'queued'
  | 'waiting'
  | 'solving'
  | 'planning'
  | 'downloading'
  | 'linking'
  | 'installing-pip'
  | 'restoring'
  | 'cleaning'
  | 'measuring'
  | 'done'
  | 'failed'
  | 'cancelled';

export interface ITaskProgress {
  phase: Phase;
  status: string;
  /** 0..1 when known. */
  fraction: number | null;
  downloads: { [name: string]: IDownload };
  linked: { done: number; total: number } | null;
  unlinked: { done: number; total: number } | null;
  plan: IPlan | null;
  solvedRecords: number | null;
  /** Output of a pip: section, and other lines worth keeping. */
  lines: string[];
  events: number;
}

export function emptyProgress(): ITaskProgress {
  return {
    phase: 'queued',
    status: trans.__('Queued'),
    fraction: null,
    downloads: {},
    linked: null,
    unlinked: null,
    plan: null,
    solvedRecords: null,
    lines: [],
    events: 0
  };
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** 1536 -> "1.5 KB" (binary multiples, as the CLI prints them). */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !isFinite(n)) {
    return '?';
  }
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** 12345 -> "12,345". */
export function formatCount(n: number | null | undefined): string {
  return n === null || n === undefined ? '?' : n.toLocaleString('en-US');
}

function holderWords(holder: any): string {
  if (!holder || typeof holder !== 'object') {
    return trans.__('another process');
  }
  let who = trans.__('process %1', holder.pid ?? '?');
  if (holder.cmd) {
    who += ` (${holder.cmd})`;
  }
  return who;
}

function downloadTotals(p: ITaskProgress): {
  done: number;
  total: number | null;
} {
  const all = Object.values(p.downloads);
  const done = all.reduce((sum, d) => sum + d.bytes, 0);
  const total = all.every(d => d.total)
    ? all.reduce((sum, d) => sum + (d.total ?? 0), 0)
    : null;
  return { done, total };
}

/** Fold one event into the progress (in place); true when something shown changed. */
export function applyEvent(p: ITaskProgress, event: ITaskEvent): boolean {
  p.events++;
  switch (event.event) {
    case 'queued':
      p.phase = 'queued';
      p.status = trans.__('Queued');
      return true;
    case 'lock-wait':
      p.phase = 'waiting';
      p.status = trans.__(
        "Waiting for the environment's lock, held by %1",
        holderWords(event.holder)
      );
      return true;
    case 'solve-start':
      p.phase = 'solving';
      p.fraction = null;
      p.status = trans.__('Solving %1', (event.specs ?? []).join(', ')).trim();
      return true;
    case 'solve-done':
      p.solvedRecords = event.records ?? null;
      p.status = trans.__(
        'Solved: %1 packages in %2 s',
        event.records ?? '?',
        event.seconds ?? '?'
      );
      return true;
    case 'plan': {
      p.phase = 'planning';
      p.plan = event as unknown as IPlan;
      const plan = p.plan;
      const parts = [
        trans.__('%1 to add', plan.add?.length ?? 0),
        trans.__('%1 to change', plan.change?.length ?? 0),
        trans.__('%1 to remove', plan.remove?.length ?? 0)
      ];
      if (plan.download_count) {
        parts.push(
          trans.__(
            '%1 to download (%2)',
            plan.download_count,
            formatBytes(plan.download_bytes)
          )
        );
      }
      p.status = trans.__('Plan: %1', parts.join(', '));
      return true;
    }
    case 'download-start':
    case 'download-progress': {
      const name = String(event.name ?? '?');
      p.downloads[name] = {
        bytes: Number(event.bytes ?? 0),
        total: event.total ?? p.downloads[name]?.total ?? null,
        done: false
      };
      // Downloads and links overlap (a package links once it is in the cache): once linking
      // has begun, the bar and the status line both stay on the link count, one measure, so
      // the bar never jumps back to a byte fraction while the text says "Linking a/b".
      if (p.phase === 'linking') {
        return true;
      }
      p.phase = 'downloading';
      const { done, total } = downloadTotals(p);
      p.fraction = total ? done / total : null;
      p.status = trans.__(
        'Downloading %1: %2 of %3',
        name,
        formatBytes(done),
        formatBytes(total)
      );
      return true;
    }
    case 'download-done': {
      const name = String(event.name ?? '?');
      const d = p.downloads[name] ?? { bytes: 0, total: null, done: false };
      p.downloads[name] = { ...d, bytes: d.total ?? d.bytes, done: true };
      return true;
    }
    case 'link':
    case 'unlink': {
      const counts = {
        done: Number(event.done ?? 0),
        total: Number(event.total ?? 0)
      };
      if (event.event === 'link') {
        p.linked = counts;
      } else {
        p.unlinked = counts;
      }
      p.phase = 'linking';
      // The bar is exactly the count the status line shows: done/total.
      p.fraction = counts.total ? counts.done / counts.total : null;
      p.status =
        event.event === 'link'
          ? trans.__(
              'Linking %1/%2: %3',
              counts.done,
              counts.total,
              event.name ?? '?'
            )
          : trans.__(
              'Unlinking %1/%2: %3',
              counts.done,
              counts.total,
              event.name ?? '?'
            );
      return true;
    }
    case 'cancel-pending':
      p.status = trans.__(
        'Cancelling: %1',
        event.reason ?? trans.__('waiting')
      );
      return true;
    case 'restore':
      p.phase = 'restoring';
      p.fraction = null;
      p.status = trans.__("Restoring the environment's previous state");
      return true;
    case 'restored':
      p.status = event.removed
        ? trans.__('The unfinished environment was removed')
        : trans.__("The environment's previous state is back");
      return true;
    case 'pip-start':
      p.phase = 'installing-pip';
      p.status = trans.__('Installing the pip: section');
      return true;
    case 'pip-output':
      p.lines.push(String(event.line ?? ''));
      return true;
    case 'usage-walk':
      p.phase = 'measuring';
      p.status = trans.__('Measuring disk use');
      return true;
    case 'clean-plan':
      p.phase = 'cleaning';
      p.status = trans.__(
        'Cleaning %1 items (%2, %3 inodes)',
        event.items ?? '?',
        formatBytes(event.bytes),
        formatCount(event.inodes)
      );
      return true;
    case 'clean-remove':
      p.phase = 'cleaning';
      p.fraction = event.total ? event.done / event.total : null;
      p.status = trans.__(
        'Removed %1/%2: %3',
        event.done,
        event.total,
        event.path ?? ''
      );
      return true;
    case 'done':
      p.phase = 'done';
      p.fraction = 1;
      p.status = trans.__('Done');
      return true;
    case 'failed':
      p.phase = 'failed';
      p.status = event.error?.message ?? trans.__('Failed');
      return true;
    case 'cancelled':
      p.phase = 'cancelled';
      p.status = trans.__('Cancelled');
      return true;
    default:
      return false;
  }
}
