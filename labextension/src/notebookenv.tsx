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
import { trans } from './i18n';
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
    appendText(
      list,
      'li',
      trans.__('… and %1 more', items.length - MAX_LISTED)
    );
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
    appendText(
      node,
      'p',
      target === envName
        ? trans.__(
            "This notebook carries the environment '%1' (%2 packages). Create it here?",
            envName,
            packageCount(meta)
          )
        : trans.__(
            "This notebook carries the environment '%1' (%2 packages). Create it here as '%3'?",
            envName,
            packageCount(meta),
            target
          )
    );
  } else {
    appendText(
      node,
      'p',
      trans.__(
        "This notebook carries the environment '%1'. Syncing it would change an existing environment here: %2.",
        envName,
        preview.summary
      )
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
    fetches.textContent = trans.__(
      'It may fetch packages (those not in the package cache) from %1; channels: %2.',
      preview.hosts.join(', '),
      preview.channels.join(', ')
    );
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
  node.setAttribute('aria-label', trans.__('Embedded lock'));
  appendText(
    node,
    'p',
    trans.__(
      "Embedded the environment %1 (%2 packages) into %3's metadata (envmgr); save the notebook to keep it.",
      env,
      packageCount(meta),
      notebook
    )
  );
  const platforms =
    meta.platforms && typeof meta.platforms === 'object' ? meta.platforms : {};
  const table = document.createElement('table');
  table.className = 'jp-EnvMgr-table';
  table.setAttribute('aria-label', trans.__('Embedded platforms'));
  const head = table.createTHead().insertRow();
  for (const title of [trans.__('Platform'), trans.__('Packages')]) {
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
      trans.__('Not an environment kernel'),
      trans.__(
        "This notebook's kernel does not run in a managed environment: pick an environment's kernel first."
      )
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
        trans.__(
          'Embedded the environment %1 (%2 packages) into %3; save the notebook to keep it.',
          env,
          packageCount(lock.envmgr),
          panel.title.label
        ),
        { autoClose: 5000 }
      );
      return;
    }
    await showDialog({
      title: trans.__('Environment lock embedded'),
      body: embeddedBody(env, panel.title.label, lock.envmgr),
      buttons: [Dialog.okButton({ label: trans.__('Close') })]
    });
  } catch (error) {
    await showErrorMessage(
      trans.__('Cannot embed the environment %1', env),
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
      label: trans.__('Embed env lock'),
      tooltip: trans.__(
        "Write a lock of the kernel's environment into this notebook's metadata, so that it can be re-created elsewhere; shows what it embedded"
      ),
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
  const updating = preview?.action === 'update';
  let tracker;
  try {
    tracker = await model.syncNotebook(
      panel.context.model.metadata,
      name,
      panel.context.path
    );
  } catch (error) {
    await showErrorMessage(
      trans.__('Cannot sync the environment %1', envName),
      errorMessage(error)
    );
    return;
  }
  const id = Notification.emit(
    updating
      ? trans.__(
          'Updating the environment %1 from %2…',
          envName,
          panel.title.label
        )
      : trans.__(
          'Creating the environment %1 from %2…',
          envName,
          panel.title.label
        ),
    'in-progress',
    { autoClose: false }
  );
  const onChange = () => {
    if (!tracker.finished) {
      Notification.update({
        id,
        message: updating
          ? trans.__(
              'Updating the environment %1: %2',
              envName,
              tracker.progress.status
            )
          : trans.__(
              'Creating the environment %1: %2',
              envName,
              tracker.progress.status
            )
      });
    }
  };
  tracker.changed.connect(onChange);
  const task = await tracker.done;
  tracker.changed.disconnect(onChange);
  if (task.state !== 'done') {
    Notification.update({
      id,
      message: trans.__(
        'Syncing the environment %1 %2: %3',
        envName,
        task.state === 'cancelled' ? trans.__('cancelled') : trans.__('failed'),
        task.error?.message ?? ''
      ),
      type: 'error',
      autoClose: false
    });
    return;
  }
  const env: string = task.result?.env?.name ?? envName;
  const kernel = envKernelName(env);
  Notification.update({
    id,
    message: updating
      ? trans.__('Updated the environment %1; starting its kernel…', env)
      : trans.__('Created the environment %1; starting its kernel…', env),
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
      message: updating
        ? trans.__(
            'Updated the environment %1: %2 runs on its kernel.',
            env,
            panel.title.label
          )
        : trans.__(
            'Created the environment %1: %2 runs on its kernel.',
            env,
            panel.title.label
          ),
      type: 'success',
      autoClose: 5000
    });
  } catch (error) {
    Notification.update({
      id,
      message: trans.__(
        'Synced the environment %1, but cannot start its kernel %2: %3',
        env,
        kernel,
        errorMessage(error)
      ),
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
          trans.__("Cannot sync this notebook's environment"),
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
          ? trans.__('Update the environment %1?', preview.env_name)
          : trans.__('Create the notebook environment?'),
        body: syncPromptBody(meta, preview),
        buttons: [
          Dialog.cancelButton({ label: trans.__('No') }),
          Dialog.okButton({
            label: update ? trans.__('Update') : trans.__('Yes')
          })
        ]
      });
      if (result.button.accept && !panel.isDisposed) {
        await syncNotebookEnv(app, model, panel, preview);
      }
    });
  });
}
