/**
 * Notebooks saved under nb_conda_kernels carry its kernel names (`conda-env-<env>-py`,
 * `conda-root-py`). JupyterLab looks a notebook's kernel up among the kernelspecs, where each
 * env kernel is listed once, by our name, and would ask "Select Kernel". The server knows
 * those names as aliases (`aliases` in /envmgr/api/kernels): a notebook that names one starts
 * the env kernel it stands for, and its metadata keeps the kernelspec it had, so the file
 * still reads the same in nb_conda_kernels, nbclient and papermill.
 */
import { ISessionContext, SessionContextDialogs } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { KernelSpec } from '@jupyterlab/services';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { EnvManagerModel } from './model';

/** Names that may be an alias: nb_conda_kernels' names all start so. */
const MAYBE_ALIAS = /^conda-/;

export function followKernelAliases(
  model: EnvManagerModel,
  notebooks: INotebookTracker,
  specs: KernelSpec.IManager
): void {
  notebooks.widgetAdded.connect((_, panel) => {
    new AliasedNotebook(model, panel, specs);
  });
}

class AliasedNotebook {
  constructor(
    private _model: EnvManagerModel,
    private _panel: NotebookPanel,
    private _specs: KernelSpec.IManager
  ) {
    const session = _panel.sessionContext;
    session.kernelPreferenceChanged.connect(() => this._preferenceChanged());
    _panel.context.model.metadataChanged.connect((_, change) => {
      if (change.key === 'kernelspec') {
        this._kernelspecChanged();
      }
    });
  }

  /** The notebook's own kernelspec metadata, while its kernel runs under our name. */
  private _original: ReadonlyPartialJSONObject | null = null;
  private _target: string | null = null;

  private get _session(): ISessionContext {
    return this._panel.sessionContext;
  }

  /** The notebook's kernel preference was set from its metadata: map an alias. */
  private _preferenceChanged(): void {
    const preference = this._session.kernelPreference;
    const name = preference.name;
    if (
      !name ||
      name === this._target ||
      !MAYBE_ALIAS.test(name) ||
      this._specs.specs?.kernelspecs[name]
    ) {
      return; // a name JupyterLab knows: nothing to do
    }
    if (this._model.kernelsLoaded) {
      this._apply(name);
      return;
    }
    if (preference.shouldStart === false) {
      return;
    }
    // The env kernels are not listed yet: hold the start until they are, then start the
    // kernel the name stands for (or do what JupyterLab would have done).
    this._session.kernelPreference = { ...preference, shouldStart: false };
    void this._model.kernelsReady.then(async () => {
      this._session.kernelPreference = {
        ...this._session.kernelPreference,
        shouldStart: preference.shouldStart
      };
      this._apply(name);
      await this._session.initialize();
      if (this._session.isDisposed || this._session.session?.kernel) {
        return;
      }
      if (await this._session.startKernel()) {
        await new SessionContextDialogs().selectKernel(this._session);
      }
    });
  }

  private _apply(name: string): void {
    const kernel = this._model.kernelOfAlias(name);
    if (!kernel) {
      return;
    }
    const spec = this._panel.context.model.getMetadata('kernelspec');
    this._original = spec && typeof spec === 'object' ? { ...spec } : { name };
    this._target = kernel.name;
    this._session.kernelPreference = {
      ...this._session.kernelPreference,
      name: kernel.name
    };
  }

  /**
   * JupyterLab writes the running kernel's spec into the metadata: while that is the kernel
   * the notebook's alias stands for, the notebook keeps its own.
   */
  private _kernelspecChanged(): void {
    if (!this._original) {
      return;
    }
    const model = this._panel.context.model;
    const spec = model.getMetadata('kernelspec') as
      | { name?: string }
      | undefined;
    if (spec?.name === this._target) {
      model.setMetadata('kernelspec', this._original);
    } else if (spec?.name !== this._original.name) {
      this._original = null; // the user chose another kernel: the notebook now names that
      this._target = null;
    }
  }
}
