/**
 * A notebook that carries its environment (`metadata.envmgr`): a toolbar button that embeds the
 * running kernel's env into the notebook, and, when a notebook whose env is missing here opens,
 * an offer to create that env and switch the notebook's kernel to it.
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

import { envsIcon } from './icons';
import { NotebookGlue } from './kernels';
import { EnvManagerModel } from './model';
import { errorMessage } from './request';

/** The kernel of env E. */
export function envKernelName(env: string): string {
  return `conda-env-${env}-python3`;
}

function carried(panel: NotebookPanel): { [key: string]: any } | null {
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

function textBody(text: string): Widget {
  const body = new Widget();
  const p = document.createElement('p');
  p.textContent = text;
  body.node.appendChild(p);
  return body;
}

/** Embed the env of `panel`'s running kernel into its notebook (saved with it). */
export async function embedEnv(
  model: EnvManagerModel,
  glue: NotebookGlue,
  panel: NotebookPanel
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
    const count = packageCount(lock.envmgr);
    Notification.success(
      `Embedded the environment ${env} (${count} packages) into ${panel.title.label}; ` +
        'save the notebook to keep it.',
      { autoClose: 5000 }
    );
  } catch (error) {
    await showErrorMessage(
      `Cannot embed the environment ${env}`,
      errorMessage(error)
    );
  }
}

/** The notebook toolbar's "Environment" button. */
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
      label: 'Environment',
      tooltip:
        "Embed the kernel's environment into this notebook, so that it can be re-created " +
        'elsewhere',
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
  const kernelspec = panel.context.model.getMetadata('kernelspec') as
    | { name?: string }
    | undefined;
  const specs = app.serviceManager.kernelspecs;
  await specs.ready;
  if (kernelspec?.name) {
    return !(kernelspec.name in (specs.specs?.kernelspecs ?? {}));
  }
  await model.refresh().catch(() => undefined);
  return !model.environment(String(meta.env_name));
}

/** Create the env a notebook carries and switch the notebook's kernel to it. */
export async function syncNotebookEnv(
  app: JupyterFrontEnd,
  model: EnvManagerModel,
  panel: NotebookPanel
): Promise<void> {
  const meta = carried(panel);
  if (!meta) {
    return;
  }
  const envName = String(meta.env_name ?? '?');
  let tracker;
  try {
    tracker = await model.syncNotebook(panel.context.model.metadata);
  } catch (error) {
    await showErrorMessage(
      `Cannot create the environment ${envName}`,
      errorMessage(error)
    );
    return;
  }
  const id = Notification.emit(
    `Creating the environment ${envName} from ${panel.title.label}…`,
    'in-progress',
    { autoClose: false }
  );
  const onChange = () => {
    if (!tracker.finished) {
      Notification.update({
        id,
        message: `Creating the environment ${envName}: ${tracker.progress.status}`
      });
    }
  };
  tracker.changed.connect(onChange);
  const task = await tracker.done;
  tracker.changed.disconnect(onChange);
  if (task.state !== 'done') {
    Notification.update({
      id,
      message: `Creating the environment ${envName} ${task.state}: ${
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
    message: `Created the environment ${env}; starting its kernel…`,
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
      message: `Created the environment ${env}: ${panel.title.label} runs on its kernel.`,
      type: 'success',
      autoClose: 5000
    });
  } catch (error) {
    Notification.update({
      id,
      message: `Created the environment ${env}, but cannot start its kernel ${kernel}: ${errorMessage(
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
      const envName = String(meta.env_name ?? '?');
      const result = await showDialog({
        title: 'Create the notebook environment?',
        body: textBody(
          `This notebook carries the environment '${envName}' (${packageCount(
            meta
          )} packages). Create it here?`
        ),
        buttons: [
          Dialog.cancelButton({ label: 'No' }),
          Dialog.okButton({ label: 'Yes' })
        ]
      });
      if (result.button.accept && !panel.isDisposed) {
        await syncNotebookEnv(app, model, panel);
      }
    });
  });
}
