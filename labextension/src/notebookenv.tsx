/**
 * A notebook that carries its environment (`metadata.envmgr`): a toolbar button that embeds the
 * running kernel's env into the notebook, and, when a notebook whose env is missing here opens,
 * an offer to create that env (or to update the env sync made for it: the prompt says which, with
 * the counts, and the hosts it fetches from) and switch the notebook's kernel to it.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  Notification,
  ToolbarButton,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type {
  INotebookModel,
  INotebookTracker,
  NotebookPanel
} from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { guardNotebook } from './earlyruns';
import { envsIcon } from './icons';
import { NotebookGlue } from './kernels';
import { EnvManagerModel, INotebookSyncPreview } from './model';
import { errorMessage } from './request';

/** The kernel of env E. */
export function envKernelName(env: string): string {
  return `conda-env-${env}-python3`;
}

export function carried(panel: NotebookPanel): { [key: string]: any } | null {
  const meta = panel.context.model.getMetadata('envmgr');
  return meta && typeof meta === 'object' && !Array.isArray(meta)
    ? (meta as { [key: string]: any })
    : null;
}

/** How many packages the lock holds (its largest platform). */
function packageCount(meta: { [key: string]: any }): number {
  const platforms = meta.platforms;
  if (!platforms || typeof platforms !== 'object') {
    return 0;
  }
  return Math.max(
    0,
    ...Object.values(platforms).map(list =>
      Array.isArray(list) ? list.length : 0
    )
  );
}

/** The name in `metadata.kernelspec`, whatever a notebook from elsewhere put there. */
function kernelspecName(panel: NotebookPanel): string | null {
  const spec = panel.context.model.getMetadata('kernelspec');
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) {
    return null;
  }
  const name = (spec as { [key: string]: unknown }).name;
  return typeof name === 'string' && name ? name : null;
}

const MAX_LISTED = 8;

export function appendText(
  parent: HTMLElement,
  tag: string,
  text: string
): void {
  const node = document.createElement(tag);
  node.textContent = text;
  parent.appendChild(node);
}

/** Up to MAX_LISTED lines of `items`, each after `mark`, then "… and N more". */
export function appendList(
  parent: HTMLElement,
  mark: string,
  items: string[]
): void {
  if (items.length === 0) {
    return;
  }
  const list = document.createElement('ul');
  list.style.listStyle = 'none'; // each line has its own mark (−, +, ~)
  for (const item of items.slice(0, MAX_LISTED)) {
    appendText(list, 'li', `${mark} ${item}`);
  }
  if (items.length > MAX_LISTED) {
    appendText(list, 'li', `… and ${items.length - MAX_LISTED} more`);
  }
  parent.appendChild(list);
}

/**
 * The question before a sync, from its preview: plainly "create" or "update" (with the counts
 * and the packages), the notes (an env left alone, specs solved), and where it fetches from.
 */
export function syncPromptBody(
  meta: { [key: string]: any },
  preview: INotebookSyncPreview
): Widget {
  const body = new Widget();
  body.addClass('jp-EnvMgr-syncPrompt');
  const node = body.node;
  const envName = String(meta.env_name ?? '?');
  const target = preview.env_name;
  if (preview.action === 'create') {
    const where = target === envName ? '' : ` as '${target}'`;
    appendText(
      node,
      'p',
      `This notebook carries the environment '${envName}' (${packageCount(
        meta
      )} packages). Create it here${where}?`
    );
  } else {
    appendText(
      node,
      'p',
      `This notebook carries the environment '${envName}'. Syncing it would change an ` +
        `existing environment here: ${preview.summary}.`
    );
    appendList(node, '−', preview.remove);
    appendList(node, '+', preview.add);
    appendList(node, '~', preview.change);
  }
  for (const note of preview.notes) {
    appendText(node, 'p', note);
  }
  if (preview.hosts.length > 0) {
    const fetches = document.createElement('p');
    fetches.className = 'jp-EnvMgr-syncSources';
    fetches.textContent =
      `It may fetch packages (those not in the package cache) from ${preview.hosts.join(
        ', '
      )}; ` + `channels: ${preview.channels.join(', ')}.`;
    node.appendChild(fetches);
  }
  return body;
}

/** What "Embed env lock" wrote: the env, each platform with its package count. */
function embeddedBody(
  env: string,
  notebook: string,
  meta: { [key: string]: any }
): Widget {
  const body = new Widget();
  const node = body.node;
  node.classList.add('jp-EnvMgr-embeddedBody');
  node.setAttribute('aria-label', 'Embedded lock');
  appendText(
    node,
    'p',
    `Embedded the environment ${env} (${packageCount(meta)} packages) into ` +
      `${notebook}'s metadata (envmgr); save the notebook to keep it.`
  );
  const platforms =
    meta.platforms && typeof meta.platforms === 'object' ? meta.platforms : {};
  const table = document.createElement('table');
  table.className = 'jp-EnvMgr-table';
  table.setAttribute('aria-label', 'Embedded platforms');
  const head = table.createTHead().insertRow();
  for (const title of ['Platform', 'Packages']) {
    const th = document.createElement('th');
    th.textContent = title;
    head.appendChild(th);
  }
  const rows = table.createTBody();
  for (const [platform, list] of Object.entries(platforms)) {
    const row = rows.insertRow();
    row.dataset.platform = platform;
    row.insertCell().textContent = platform;
    row.insertCell().textContent = String(
      Array.isArray(list) ? list.length : 0
    );
  }
  node.appendChild(table);
  return body;
}

/**
 * Embed the env of `panel`'s running kernel into its notebook (saved with it). The toolbar
 * button shows what went in (a dialog); a re-lock, already confirmed in its own dialog, says
 * so in a notification.
 */
export async function embedEnv(
  model: EnvManagerModel,
  glue: NotebookGlue,
  panel: NotebookPanel,
  show: 'dialog' | 'notification' = 'dialog'
): Promise<void> {
  if (model.kernels.length === 0) {
    await model.refreshKernels().catch(() => undefined);
  }
  const env = model.envOfKernel(glue.kernelNameOf(panel));
  if (!env) {
    await showErrorMessage(
      'Not an environment kernel',
      "This notebook's kernel does not run in a managed environment: pick an environment's " +
        'kernel first.'
    );
    return;
  }
  const previous = carried(panel);
  const lockId =
    typeof previous?.lock_id === 'string' ? previous.lock_id : undefined;
  try {
    const lock = await model.notebookLock(env, lockId);
    panel.context.model.setMetadata('envmgr', lock.envmgr);
    if (lock.kernelspec) {
      panel.context.model.setMetadata('kernelspec', lock.kernelspec);
    }
    if (show === 'notification') {
      Notification.success(
        `Embedded the environment ${env} (${packageCount(lock.envmgr)} packages) into ` +
          `${panel.title.label}; save the notebook to keep it.`,
        { autoClose: 5000 }
      );
      return;
    }
    await showDialog({
      title: 'Environment lock embedded',
      body: embeddedBody(env, panel.title.label, lock.envmgr),
      buttons: [Dialog.okButton({ label: 'Close' })]
    });
  } catch (error) {
    await showErrorMessage(
      `Cannot embed the environment ${env}`,
      errorMessage(error)
    );
  }
}

/** The notebook toolbar's "Embed env lock" button. */
export class EmbedEnvExtension
  implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel>
{
  constructor(
    private _model: EnvManagerModel,
    private _glue: NotebookGlue
  ) {}

  createNew(panel: NotebookPanel): IDisposable {
    const button = new ToolbarButton({
      className: 'jp-EnvMgr-embedButton',
      icon: envsIcon,
      label: 'Embed env lock',
      tooltip:
        "Write a lock of the kernel's environment into this notebook's metadata, so that " +
        'it can be re-created elsewhere; shows what it embedded',
      onClick: () => void embedEnv(this._model, this._glue, panel)
    });
    panel.toolbar.insertItem(10, 'envmgr-embed', button);
    return button;
  }
}

/** Is the env a notebook carries missing here? */
async function envMissing(
  app: JupyterFrontEnd,
  model: EnvManagerModel,
  panel: NotebookPanel,
  meta: { [key: string]: any }
): Promise<boolean> {
  const kernel = kernelspecName(panel);
  const specs = app.serviceManager.kernelspecs;
  await specs.ready;
  if (kernel) {
    return !(kernel in (specs.specs?.kernelspecs ?? {}));
  }
  await model.refresh().catch(() => undefined);
  return !model.environment(String(meta.env_name));
}

/**
 * Create the env a notebook carries (or update `name`, the user's choice) and switch the
 * notebook's kernel to it.
 */
export async function syncNotebookEnv(
  app: JupyterFrontEnd,
  model: EnvManagerModel,
  panel: NotebookPanel,
  preview?: INotebookSyncPreview,
  name?: string
): Promise<void> {
  const meta = carried(panel);
  if (!meta) {
    return;
  }
  // Cells run while the env is made and the kernel switches run once it is up.
  guardNotebook(panel);
  const envName = preview?.env_name ?? String(meta.env_name ?? '?');
  const doing = preview?.action === 'update' ? 'Updating' : 'Creating';
  const did = preview?.action === 'update' ? 'Updated' : 'Created';
  let tracker;
  try {
    tracker = await model.syncNotebook(
      panel.context.model.metadata,
      name,
      panel.context.path
    );
  } catch (error) {
    await showErrorMessage(
      `Cannot sync the environment ${envName}`,
      errorMessage(error)
    );
    return;
  }
  const id = Notification.emit(
    `${doing} the environment ${envName} from ${panel.title.label}…`,
    'in-progress',
    { autoClose: false }
  );
  const onChange = () => {
    if (!tracker.finished) {
      Notification.update({
        id,
        message: `${doing} the environment ${envName}: ${tracker.progress.status}`
      });
    }
  };
  tracker.changed.connect(onChange);
  const task = await tracker.done;
  tracker.changed.disconnect(onChange);
  if (task.state !== 'done') {
    Notification.update({
      id,
      message: `${doing} the environment ${envName} ${task.state}: ${
        task.error?.message ?? ''
      }`,
      type: 'error',
      autoClose: false
    });
    return;
  }
  const env: string = task.result?.env?.name ?? envName;
  const kernel = envKernelName(env);
  Notification.update({
    id,
    message: `${did} the environment ${env}; starting its kernel…`,
    type: 'in-progress'
  });
  try {
    await app.serviceManager.kernelspecs.refreshSpecs();
    // The server may list the new kernel a moment after the task ends.
    for (let i = 0; i < 20; i++) {
      if (kernel in (app.serviceManager.kernelspecs.specs?.kernelspecs ?? {})) {
        break;
      }
      await new Promise(resolve => setTimeout(resolve, 500));
      await app.serviceManager.kernelspecs.refreshSpecs();
    }
    if (!panel.isDisposed) {
      await panel.sessionContext.changeKernel({ name: kernel });
    }
    Notification.update({
      id,
      message: `${did} the environment ${env}: ${panel.title.label} runs on its kernel.`,
      type: 'success',
      autoClose: 5000
    });
  } catch (error) {
    Notification.update({
      id,
      message: `${did} the environment ${env}, but cannot start its kernel ${kernel}: ${errorMessage(
        error
      )}`,
      type: 'error',
      autoClose: false
    });
  }
}

/** When a notebook that carries a missing env opens: offer to create it. */
export function watchCarriedEnvs(
  app: JupyterFrontEnd,
  model: EnvManagerModel,
  tracker: INotebookTracker
): void {
  tracker.widgetAdded.connect((_, panel) => {
    void panel.context.ready.then(async () => {
      const meta = carried(panel);
      if (!meta || panel.isDisposed) {
        return;
      }
      let missing = false;
      try {
        missing = await envMissing(app, model, panel, meta);
      } catch (error) {
        console.warn('jupyter-envmgr: checking the notebook env', error);
      }
      if (!missing || panel.isDisposed) {
        return;
      }
      // What a sync would do, before asking: create or update which env, and the hosts.
      let preview: INotebookSyncPreview;
      try {
        preview = await model.previewNotebookSync(
          panel.context.model.metadata,
          undefined,
          panel.context.path
        );
      } catch (error) {
        await showErrorMessage(
          "Cannot sync this notebook's environment",
          errorMessage(error)
        );
        return;
      }
      if (preview.action === 'none' || panel.isDisposed) {
        return;
      }
      const update = preview.action === 'update';
      const result = await showDialog({
        title: update
          ? `Update the environment ${preview.env_name}?`
          : 'Create the notebook environment?',
        body: syncPromptBody(meta, preview),
        buttons: [
          Dialog.cancelButton({ label: 'No' }),
          Dialog.okButton({ label: update ? 'Update' : 'Yes' })
        ]
      });
      if (result.button.accept && !panel.isDisposed) {
        await syncNotebookEnv(app, model, panel, preview);
      }
    });
  });
}
