/**
 * The notebook side: which env a notebook's kernel runs in (a status-bar item that opens
 * "install into this kernel's env"), a restart offer when an install changed packages the
 * kernel had already imported, new notebooks on an env, and switching a notebook's kernel.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { INotebookRef } from './components/actions';
import { useSignals } from './components/hooks';
import { EarlyRunGuard, guardNotebook } from './earlyruns';
import { trans } from './i18n';
import { EnvManagerModel, TaskTracker } from './model';

/**
 * Python, run in the kernel as a user expression (no cell, no history): the modules it loaded
 * from files inside its own env, with each file's inode and mtime, as base64 JSON.
 */
const SNAPSHOT =
  '(lambda os, sys, json, b64: b64.b64encode(json.dumps({n: [f, os.stat(f).st_ino, ' +
  'os.stat(f).st_mtime_ns] for n, f in [(n, getattr(m, "__file__", None)) for n, m in ' +
  'list(sys.modules.items())] if isinstance(f, str) and os.path.realpath(f).startswith(' +
  'os.path.realpath(sys.prefix) + os.sep) and os.path.exists(f)}).encode()).decode())' +
  '(__import__("os"), __import__("sys"), __import__("json"), __import__("base64"))';

/**
 * Python: after a change, the top-level names of those modules whose files were replaced or
 * removed (they keep running old code until a restart); also drops the import caches so new
 * packages import at once.
 */
function changedExpression(snapshot: string): string {
  return (
    '(lambda os, json, b64, il, snap: (il.invalidate_caches(), b64.b64encode(json.dumps(' +
    'sorted({n.split(".")[0] for n, (f, i, t) in snap.items() if not os.path.exists(f) or ' +
    '[os.stat(f).st_ino, os.stat(f).st_mtime_ns] != [i, t]})).encode()).decode())[1])' +
    '(__import__("os"), __import__("json"), __import__("base64"), __import__("importlib"), ' +
    `__import__("json").loads(__import__("base64").b64decode("${snapshot}")))`
  );
}

function fromBase64(text: string): string {
  const bytes = Uint8Array.from(atob(text), c => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** A user expression's value (a Python str holding base64), or null on error or timeout. */
async function evaluate(
  kernel: Kernel.IKernelConnection,
  expression: string,
  timeout = 5000
): Promise<string | null> {
  const future = kernel.requestExecute(
    {
      code: '',
      silent: true,
      store_history: false,
      allow_stdin: false,
      stop_on_error: false,
      user_expressions: { envmgr: expression }
    },
    true
  );
  let timer = 0;
  const expired = new Promise<null>(resolve => {
    timer = window.setTimeout(() => resolve(null), timeout);
  });
  try {
    const reply = (await Promise.race([
      future.done,
      expired
    ])) as KernelMessage.IExecuteReplyMsg | null;
    if (!reply || reply.content.status !== 'ok') {
      return null;
    }
    const value = (reply.content.user_expressions as any)?.envmgr;
    if (value?.status !== 'ok') {
      return null;
    }
    const text = String(value.data?.['text/plain'] ?? '');
    return text.replace(/^['"]|['"]$/g, '');
  } catch {
    return null;
  } finally {
    window.clearTimeout(timer);
  }
}

/**
 * A notebook that opens stays clean until the user acts. JupyterLab adds empty `language_info`
 * and `kernelspec` to a file that has none as it loads, then writes the first kernel's into the
 * notebook as it starts; when they differ from the file's (a notebook written elsewhere, e.g.
 * `language_info` with only its name), the tab shows unsaved changes at once. Those writes keep
 * a clean notebook clean (a later save still stores them); any edit, or a kernel the user
 * switches to later, marks it dirty as always.
 */
export function keepCleanOnOpen(panel: NotebookPanel): void {
  void panel.context.ready.then(() => {
    const model = panel.context.model;
    const session = panel.sessionContext;
    // Loading a file without `language_info` or `kernelspec` adds empty ones: not an edit.
    const info = model.getMetadata('language_info') as { name?: string };
    const spec = model.getMetadata('kernelspec') as { name?: string };
    if (model.dirty && (info?.name === '' || spec?.name === '')) {
      model.dirty = false;
    }
    if (panel.isDisposed || model.dirty) {
      return;
    }
    let first = session.session?.kernel ?? null;
    let ours = false; // the change under way is one of those writes
    let acted = false; // something else changed the notebook
    const onKernel = () => {
      const kernel = session.session?.kernel ?? null;
      if (first === null) {
        first = kernel;
      } else if (kernel !== first) {
        stop(); // a switch: JupyterLab's writes mark the notebook as usual
      }
    };
    const onMetadata = (_: unknown, change: { key: string }) => {
      const kernel = session.session?.kernel ?? null;
      ours =
        !acted &&
        !!kernel &&
        kernel === first &&
        (change.key === 'language_info' || change.key === 'kernelspec');
      if (ours) {
        // JupyterLab sets `dirty` right after this signal.
        void Promise.resolve().then(() => {
          if (!acted && !panel.isDisposed) {
            model.dirty = false;
          }
        });
      }
    };
    const onContent = () => {
      acted = acted || !ours;
      ours = false;
      if (acted) {
        stop();
      }
    };
    const stop = () => {
      session.kernelChanged.disconnect(onKernel);
      model.metadataChanged.disconnect(onMetadata);
      model.contentChanged.disconnect(onContent);
    };
    session.kernelChanged.connect(onKernel);
    model.metadataChanged.connect(onMetadata);
    model.contentChanged.connect(onContent);
    panel.disposed.connect(stop);
  });
}

interface ISnapshot {
  panel: NotebookPanel;
  kernel: Kernel.IKernelConnection;
  snapshot: string;
}

export class NotebookGlue {
  constructor(
    private _model: EnvManagerModel,
    private _tracker: INotebookTracker | null,
    guardAll: () => boolean = () => true
  ) {
    // Cells run before the kernel is ready would be dropped (jupyterlab#8490): hold them.
    this.earlyRuns = _tracker ? new EarlyRunGuard(_tracker, guardAll) : null;
    const changed = () => this._notebooksChanged.emit();
    _tracker?.widgetAdded.connect((_, panel) => {
      keepCleanOnOpen(panel);
      panel.sessionContext.kernelChanged.connect(changed);
      panel.disposed.connect(changed);
      changed();
    });
    _tracker?.currentChanged.connect(changed);
    _model.kernelsChanged.connect(changed);
  }

  /** Holds cells run before a notebook's kernel is ready. */
  readonly earlyRuns: EarlyRunGuard | null;

  /** Notebooks opened, closed, focused or switched kernels. */
  get notebooksChanged(): Signal<this, void> {
    return this._notebooksChanged;
  }

  get tracker(): INotebookTracker | null {
    return this._tracker;
  }

  kernelNameOf(panel: NotebookPanel | null | undefined): string | null {
    if (!panel) {
      return null;
    }
    return (
      panel.sessionContext.session?.kernel?.name ??
      panel.sessionContext.kernelPreference.name ??
      null
    );
  }

  /** The env of the current notebook's kernel, or null. */
  currentEnv(): string | null {
    return this._model.envOfKernel(
      this.kernelNameOf(this._tracker?.currentWidget)
    );
  }

  openNotebooks(): INotebookRef[] {
    const found: INotebookRef[] = [];
    this._tracker?.forEach(panel => {
      found.push({
        id: panel.id,
        title: panel.title.label,
        kernelName: this.kernelNameOf(panel)
      });
    });
    return found;
  }

  async switchKernel(
    id: string,
    kernelName: string
  ): Promise<NotebookPanel | null> {
    const panel = this._tracker?.find(p => p.id === id) ?? null;
    if (panel) {
      guardNotebook(panel);
      await panel.sessionContext.changeKernel({ name: kernelName });
    }
    return panel;
  }

  /**
   * Start a change of `env` and, when it is done, offer to restart the notebooks whose
   * kernels run in that env and had imported packages the change replaced.
   */
  async runWithRestartOffer(
    env: string,
    start: () => Promise<TaskTracker>
  ): Promise<TaskTracker> {
    const snapshots = await this._snapshots(env);
    const tracker = await start();
    if (snapshots.length) {
      void tracker.done.then(task => {
        if (task.state === 'done') {
          void this._offerRestart(env, snapshots);
        }
      });
    }
    return tracker;
  }

  private _panelsOn(env: string): NotebookPanel[] {
    const panels: NotebookPanel[] = [];
    this._tracker?.forEach(panel => {
      const name = panel.sessionContext.session?.kernel?.name;
      const kernel = this._model.kernels.find(k => k.name === name);
      if (
        kernel &&
        (kernel.env.key ?? kernel.env.name) === env &&
        kernel.language.toLowerCase() === 'python'
      ) {
        panels.push(panel);
      }
    });
    return panels;
  }

  private async _snapshots(env: string): Promise<ISnapshot[]> {
    const found = await Promise.all(
      this._panelsOn(env).map(async panel => {
        const kernel = panel.sessionContext.session?.kernel;
        if (!kernel || kernel.status === 'dead') {
          return null;
        }
        const snapshot = await evaluate(kernel, SNAPSHOT);
        return snapshot ? { panel, kernel, snapshot } : null;
      })
    );
    return found.filter((s): s is ISnapshot => s !== null);
  }

  private async _offerRestart(
    env: string,
    snapshots: ISnapshot[]
  ): Promise<void> {
    for (const { panel, kernel, snapshot } of snapshots) {
      if (panel.isDisposed || panel.sessionContext.session?.kernel !== kernel) {
        continue; // closed, or already on another kernel
      }
      const answer = await evaluate(kernel, changedExpression(snapshot), 10000);
      if (answer === null) {
        continue;
      }
      const modules: string[] = JSON.parse(fromBase64(answer));
      if (modules.length === 0) {
        Notification.info(
          trans.__(
            '%1 changed: %2 can import the new packages without a restart.',
            env,
            panel.title.label
          ),
          { autoClose: 5000 }
        );
        continue;
      }
      const body = new Widget();
      const text = document.createElement('p');
      const one = modules.length === 1;
      text.textContent = one
        ? trans.__(
            'The kernel of %1 had already imported %2. This change replaced it: the kernel keeps running the old code until it restarts.',
            panel.title.label,
            modules.join(', ')
          )
        : trans.__(
            'The kernel of %1 had already imported %2. This change replaced them: the kernel keeps running the old code until it restarts.',
            panel.title.label,
            modules.join(', ')
          );
      body.node.appendChild(text);
      const result = await showDialog({
        title: trans.__('Restart the kernel?'),
        body,
        buttons: [
          Dialog.cancelButton({ label: trans.__('Not now') }),
          Dialog.warnButton({ label: trans.__('Restart') })
        ]
      });
      if (result.button.accept && !panel.isDisposed) {
        await panel.sessionContext.restartKernel();
      }
    }
  }

  private _notebooksChanged = new Signal<this, void>(this);
}

/** The status-bar item: the current notebook's env; a click opens the install dialog. */
function KernelEnvItem(props: {
  glue: NotebookGlue;
  model: EnvManagerModel;
  onClick: () => void;
}): JSX.Element | null {
  useSignals(props.glue.notebooksChanged, props.model.kernelsChanged);
  const env = props.glue.currentEnv();
  if (!env) {
    return null;
  }
  const label = props.model.envLabel(env);
  return (
    <button
      className="jp-EnvMgr-statusItem"
      onClick={props.onClick}
      title={trans.__(
        'This kernel runs in the environment %1: click to install into it',
        label
      )}
      aria-label={trans.__('Kernel environment %1: install into it', label)}
    >
      env: {label}
    </button>
  );
}

export function createStatusItem(
  glue: NotebookGlue,
  model: EnvManagerModel,
  onClick: () => void
): Widget {
  const widget = ReactWidget.create(
    <KernelEnvItem glue={glue} model={model} onClick={onClick} />
  );
  widget.addClass('jp-EnvMgr-statusWidget');
  return widget;
}

/** The body of "Install into this kernel's env": specs, with suggestions from search. */
export class InstallBody extends Widget {
  constructor(
    private _model: EnvManagerModel,
    env: string
  ) {
    super();
    this.addClass('jp-EnvMgr-installBody');
    const label = document.createElement('label');
    label.textContent = trans.__('Packages to install into %1:', env);
    this._input.type = 'text';
    this._input.className = 'jp-EnvMgr-input jp-mod-wide';
    this._input.placeholder = trans.__('e.g. requests numpy>=2');
    this._input.setAttribute('aria-label', trans.__('Packages to install'));
    this._list.id = `jp-EnvMgr-install-suggest-${Private.id++}`;
    this._input.setAttribute('list', this._list.id);
    this._input.addEventListener('input', () => {
      window.clearTimeout(this._timer);
      this._timer = window.setTimeout(() => void this._suggest(), 250);
    });
    label.appendChild(this._input);
    this.node.appendChild(label);
    this.node.appendChild(this._list);
  }

  getValue(): string[] {
    return this._input.value
      .split(/,|\s+(?![<>=!~])/)
      .map(s => s.trim())
      .filter(Boolean);
  }

  private async _suggest(): Promise<void> {
    const word = this._input.value.trim().split(/\s+/).pop() ?? '';
    const name = word.replace(/[<>=!~ ].*$/, '');
    if (!name || /[^A-Za-z0-9_.-]/.test(name)) {
      return;
    }
    try {
      const found = await this._model.search(name);
      const specs = [
        ...new Set(found.map(p => `${p.name}=${p.version}`))
      ].slice(0, 50);
      this._list.replaceChildren(
        ...specs.map(spec => {
          const option = document.createElement('option');
          option.value = spec;
          return option;
        })
      );
    } catch {
      // no suggestions
    }
  }

  private _input = document.createElement('input');
  private _list = document.createElement('datalist');
  private _timer = 0;
}

namespace Private {
  export let id = 0;
}
