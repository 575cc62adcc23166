/**
 * Cells run before a notebook's kernel is ready are held (shown as `[*]`) and run, in order,
 * once it is; or refused with a notification when the kernel never comes. JupyterLab drops
 * them (jupyterlab/jupyterlab#8490): `CodeCell.execute` silently clears a cell whose session
 * has no kernel yet, and a kernel switch disposes what was sent to the old kernel.
 *
 * The cell executor cannot be wrapped (JupyterLab provides it frozen, set once), so this
 * follows `NotebookActions.executionScheduled`, which fires just before the execute: a cell
 * scheduled while the kernel is not settled is remembered, and run again only if that execute
 * was dropped or cancelled (never twice).
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import { Notification } from '@jupyterlab/apputils';
import type { Cell } from '@jupyterlab/cells';
import { CodeCell } from '@jupyterlab/cells';
import type {
  INotebookTracker,
  Notebook,
  NotebookPanel
} from '@jupyterlab/notebook';
import { NotebookActions } from '@jupyterlab/notebook';
import type { Kernel } from '@jupyterlab/services';

import { trans } from './i18n';

interface IHeld {
  cell: CodeCell;
  /** Its execute was dropped or cancelled: run it again when the kernel is ready. */
  rerun: boolean;
  /** Its execute went to a kernel (still connecting): wait for it, do not run it again. */
  pending: boolean;
}

/** Notebooks our own flows opened or switched: guarded whatever the setting says. */
const ours = new WeakSet<NotebookPanel>();

/** Guard this notebook whatever the setting says (our "new notebook", syncs, switches). */
export function guardNotebook(panel: NotebookPanel | null | undefined): void {
  if (panel) {
    ours.add(panel);
  }
}

/** A kernel that takes an execute now: started, connected, not being switched. */
export function kernelSettled(context: ISessionContext): boolean {
  const kernel = context.session?.kernel;
  const status = context.kernelDisplayStatus;
  return (
    context.isReady &&
    !!kernel &&
    kernel.connectionStatus === 'connected' &&
    (status === 'idle' || status === 'busy')
  );
}

export class EarlyRunGuard {
  /**
   * @param guardAll - whether every notebook is guarded (the user setting); notebooks our own
   *   commands open or switch (`guardNotebook`) are guarded whatever it says.
   */
  constructor(
    private _tracker: INotebookTracker,
    private _guardAll: () => boolean
  ) {
    NotebookActions.executionScheduled.connect(this._onScheduled, this);
  }

  /** Cells held in this notebook now (for tests and the status). */
  heldCount(panel: NotebookPanel): number {
    return this._held.get(panel)?.length ?? 0;
  }

  private _onScheduled(
    _: unknown,
    args: { notebook: Notebook; cell: Cell }
  ): void {
    const { notebook, cell } = args;
    if (cell.model.type !== 'code') {
      return;
    }
    const panel = this._tracker.find(p => p.content === notebook);
    if (!panel || !(this._guardAll() || ours.has(panel))) {
      return;
    }
    const context = panel.sessionContext;
    if (kernelSettled(context)) {
      return;
    }
    const code = cell as CodeCell;
    const before = code.outputArea.future;
    const held: IHeld = { cell: code, rerun: false, pending: false };
    this._queue(panel).push(held);
    // The execute runs right after this signal, synchronously up to sending: by the next
    // microtask the cell either has a new future (sent) or was cleared (dropped).
    queueMicrotask(() => {
      const after = code.outputArea.future as Kernel.IShellFuture | null;
      if (after && after !== before && !after.isDisposed) {
        held.pending = true;
        after.done.then(
          () => this._settle(panel, held, false),
          () => this._settle(panel, held, true)
        );
      } else {
        this._settle(panel, held, true);
      }
    });
  }

  /** `held`'s first execute ended: ran (forget it) or was dropped/cancelled (run it again). */
  private _settle(panel: NotebookPanel, held: IHeld, rerun: boolean): void {
    held.pending = false;
    held.rerun = rerun;
    if (!rerun) {
      const queue = this._queue(panel);
      queue.splice(queue.indexOf(held), 1);
    } else if (!held.cell.isDisposed) {
      // Waiting, as a queued cell looks in JupyterLab.
      held.cell.model.executionState = 'running';
    }
    void this._flush(panel);
  }

  private _queue(panel: NotebookPanel): IHeld[] {
    let queue = this._held.get(panel);
    if (!queue) {
      queue = [];
      this._held.set(panel, queue);
      const context = panel.sessionContext;
      const flush = () => void this._flush(panel);
      context.statusChanged.connect(flush);
      context.connectionStatusChanged.connect(flush);
      context.kernelChanged.connect(flush);
      void context.ready.then(flush);
      panel.disposed.connect(() => this._held.delete(panel));
    }
    return queue;
  }

  /** Run the held cells in order while the kernel is settled; refuse them if it is gone. */
  private async _flush(panel: NotebookPanel): Promise<void> {
    const queue = this._held.get(panel);
    if (!queue || !queue.length || this._flushing.has(panel)) {
      return;
    }
    const context = panel.sessionContext;
    if (this._kernelGone(context)) {
      this._refuse(panel, queue.splice(0));
      return;
    }
    this._flushing.add(panel);
    try {
      while (queue.length && kernelSettled(context)) {
        const held = queue[0];
        if (!held.rerun) {
          break; // its first execute is still out: keep the order
        }
        queue.shift();
        if (held.cell.isDisposed) {
          continue;
        }
        let ok = false;
        const deletedCells = panel.content.model?.deletedCells ?? [];
        try {
          const reply = await CodeCell.execute(held.cell, context, {
            deletedCells,
            recordTiming: panel.content.notebookConfig.recordTiming
          });
          deletedCells.splice(0, deletedCells.length); // sent: as JupyterLab's executor does
          ok = !reply || reply.content.status === 'ok';
        } catch {
          ok = false;
        }
        if (!ok) {
          // As JupyterLab does: an error stops the cells run after it.
          this._refuse(panel, queue.splice(0), false);
        }
      }
    } finally {
      this._flushing.delete(panel);
    }
  }

  private _kernelGone(context: ISessionContext): boolean {
    const status = context.kernelDisplayStatus;
    return (
      context.isDisposed ||
      status === 'dead' ||
      (context.isReady && context.hasNoKernel)
    );
  }

  private _refuse(panel: NotebookPanel, held: IHeld[], notify = true): void {
    for (const { cell } of held) {
      if (!cell.isDisposed) {
        cell.model.executionState = 'idle';
      }
    }
    if (notify && held.length) {
      Notification.warning(
        trans._n(
          '%1 cell of %2 not run: the kernel did not start.',
          '%1 cells of %2 not run: the kernel did not start.',
          held.length,
          panel.title.label
        ),
        { autoClose: false }
      );
    }
  }

  private _held = new Map<NotebookPanel, IHeld[]>();
  private _flushing = new Set<NotebookPanel>();
}
