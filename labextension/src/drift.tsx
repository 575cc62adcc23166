/**
 * Drift: a notebook toolbar badge when the env of the notebook's kernel differs from the lock
 * the notebook carries (`metadata.envmgr`): "env differs from this notebook's lock: 2
 * packages". Its dialog lists the differences and offers both ways back: re-lock the notebook
 * from the env (the "Environment" button's embed) or sync the env to the lock (the sync prompt,
 * for the kernel's env by name). The server computes the difference (POST notebook/drift).
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  Notification,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { trans } from './i18n';
import { NotebookGlue } from './kernels';
import { EnvManagerModel } from './model';
import {
  appendList,
  appendText,
  carried,
  embedEnv,
  syncNotebookEnv,
  syncPromptBody
} from './notebookenv';
import { errorMessage } from './request';
import { INotebookDrift } from './types';

/** Seconds between checks while the notebook is shown (the CLI may change the env). */
const CHECK_INTERVAL = 10;

function packages(n: number): string {
  return trans._n('%1 package', '%1 packages', n);
}

/** The badge of one notebook: hidden while the kernel's env matches the lock. */
export class DriftBadge extends Widget {
  constructor(
    private _app: JupyterFrontEnd,
    private _model: EnvManagerModel,
    private _glue: NotebookGlue,
    private _panel: NotebookPanel
  ) {
    super({ node: document.createElement('button') });
    this.addClass('jp-EnvMgr-driftBadge');
    (this.node as HTMLButtonElement).type = 'button';
    this.node.addEventListener('click', () => void this._open());
    this.hide();
    const schedule = () => this._schedule();
    void _panel.context.ready.then(schedule);
    _panel.sessionContext.kernelChanged.connect(schedule);
    _panel.sessionContext.statusChanged.connect((_, status) => {
      if (status === 'idle') {
        schedule(); // a cell may have changed the env (%envmgr install, !pip install)
      }
    });
    _panel.context.model.metadataChanged.connect(schedule);
    _model.taskFinished.connect(this._schedule, this);
    _model.envsChanged.connect(this._schedule, this);
    this._timer = window.setInterval(() => {
      if (document.visibilityState === 'visible' && _panel.isVisible) {
        schedule();
      }
    }, CHECK_INTERVAL * 1000);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    window.clearInterval(this._timer);
    window.clearTimeout(this._pending);
    this._model.taskFinished.disconnect(this._schedule, this);
    this._model.envsChanged.disconnect(this._schedule, this);
    super.dispose();
  }

  /** The last difference found (null: none, or nothing to compare). */
  get drift(): INotebookDrift | null {
    return this._drift;
  }

  private _schedule(): void {
    // Many triggers come together (a sync ends: task, kernel, metadata): one check.
    window.clearTimeout(this._pending);
    this._pending = window.setTimeout(() => void this._check(), 300);
  }

  private async _check(): Promise<void> {
    const run = ++this._runs;
    const drift = await this._compare().catch(() => null);
    if (run !== this._runs || this.isDisposed) {
      return; // a later check is under way
    }
    this._drift = drift && drift.locked && drift.count > 0 ? drift : null;
    if (!this._drift) {
      this.hide();
      return;
    }
    this.node.textContent = trans.__(
      "env differs from this notebook's lock: %1",
      packages(this._drift.count)
    );
    this.node.title = trans.__(
      '%1 Click to re-lock the notebook from the env, or to sync the env to the lock.',
      this._drift.summary
    );
    this.show();
  }

  private async _compare(): Promise<INotebookDrift | null> {
    const panel = this._panel;
    if (panel.isDisposed || !carried(panel)) {
      return null;
    }
    if (this._model.kernels.length === 0) {
      await this._model.refreshKernels().catch(() => undefined);
    }
    const env = this._model.envOfKernel(this._glue.kernelNameOf(panel));
    if (!env) {
      return null; // not an env's kernel: nothing to compare with
    }
    this._env = env;
    return this._model.notebookDrift(panel.context.model.metadata, env);
  }

  private async _open(): Promise<void> {
    const drift = this._drift;
    const env = this._env;
    if (!drift || !env) {
      return;
    }
    const body = new Widget();
    body.addClass('jp-EnvMgr-driftDialog');
    appendText(
      body.node,
      'p',
      trans.__(
        'The environment %1 differs from the lock this notebook carries: %2 added, removed or changed since it was locked.',
        env,
        packages(drift.count)
      )
    );
    appendList(body.node, '+', drift.added);
    appendList(body.node, '−', drift.removed);
    appendList(body.node, '~', drift.changed);
    appendText(
      body.node,
      'p',
      trans.__(
        'Re-lock the notebook to record the environment as it is now, or sync %1 back to the lock.',
        env
      )
    );
    const RELOCK = trans.__('Re-lock notebook');
    const SYNC = trans.__('Sync env to lock');
    const result = await showDialog({
      title: trans.__("The environment differs from this notebook's lock"),
      body,
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: SYNC }),
        Dialog.okButton({ label: RELOCK })
      ]
    });
    if (this._panel.isDisposed) {
      return;
    }
    if (result.button.label === RELOCK) {
      await embedEnv(this._model, this._glue, this._panel, 'notification');
    } else if (result.button.label === SYNC) {
      await this._sync(env);
    }
    this._schedule();
  }

  /** The sync prompt for the kernel's env by name (the user's choice: it is updated). */
  private async _sync(env: string): Promise<void> {
    const panel = this._panel;
    const meta = carried(panel);
    if (!meta) {
      return;
    }
    let preview;
    try {
      preview = await this._model.previewNotebookSync(
        panel.context.model.metadata,
        env,
        panel.context.path
      );
    } catch (error) {
      await showErrorMessage(
        trans.__('Cannot sync the environment %1', env),
        errorMessage(error)
      );
      return;
    }
    if (preview.action === 'none') {
      Notification.info(
        trans.__("%1 already matches the notebook's lock.", env),
        { autoClose: 5000 }
      );
      return;
    }
    const result = await showDialog({
      title: trans.__('Update the environment %1?', preview.env_name),
      body: syncPromptBody(meta, preview),
      buttons: [
        Dialog.cancelButton({ label: trans.__('No') }),
        Dialog.okButton({ label: trans.__('Update') })
      ]
    });
    if (result.button.accept && !panel.isDisposed) {
      await syncNotebookEnv(this._app, this._model, panel, preview, env);
    }
  }

  private _drift: INotebookDrift | null = null;
  private _env: string | null = null;
  private _runs = 0;
  private _pending = 0;
  private _timer: number;
}

/** Every notebook's drift badge, in its toolbar beside the "Environment" button. */
export class DriftBadgeExtension
  implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel>
{
  constructor(
    private _app: JupyterFrontEnd,
    private _model: EnvManagerModel,
    private _glue: NotebookGlue
  ) {}

  createNew(panel: NotebookPanel): IDisposable {
    const badge = new DriftBadge(this._app, this._model, this._glue, panel);
    panel.toolbar.insertItem(11, 'envmgr-drift', badge);
    return badge;
  }
}
