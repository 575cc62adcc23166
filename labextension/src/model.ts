/**
 * The state of the UI and, with its task list (tasks.ts), the only user of request.ts:
 * environments (polled while shown, so changes made by the CLI, another tab or a magic appear
 * without a reload), their sizes and kernels, the tasks and their progress, settings and disk
 * usage. Views read it and listen to its signals; they never fetch.
 */
import { PromiseDelegate } from '@lumino/coreutils';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import { IDisposable } from '@lumino/disposable';

import { errorMessage, requestAPI, requestFile } from './request';
import { TaskList, TaskTracker } from './tasks';
import {
  CleanCategory,
  IBatchJob,
  IBatchRequest,
  IBatchScript,
  ICleanPlan,
  ICreateRequest,
  IEnvSize,
  IEnvironment,
  IEnvironmentDetail,
  IKernel,
  IRevision,
  ISearchResult,
  INotebookDrift,
  INotebookLock,
  ISettings,
  ISuggestedSpecs,
  IOwnerUsage,
  IUsageReport,
  ExportFormat
} from './types';

// Views and other extensions keep importing the tracker with the model that owns the tasks.
export { TaskTracker } from './tasks';

/** POST notebook/sync with `dry_run` (server/openapi.yaml, NotebookSyncPreview). */
export interface INotebookSyncPreview {
  env_name: string;
  env: { name: string | null; prefix: string; is_root: boolean } | null;
  action: 'create' | 'update' | 'none';
  summary: string;
  solved: boolean;
  add: string[];
  remove: string[];
  change: string[];
  specs: string[];
  channels: string[];
  hosts: string[];
  notes: string[];
}

export interface IEnvManagerModelOptions {
  /** Called when the env kernels changed, so JupyterLab refreshes its kernelspecs. */
  onKernelsChanged?: () => void;
  /** Seconds between polls of the environments while a view is shown. */
  pollInterval?: number;
}

export class EnvManagerModel implements IDisposable {
  constructor(options: IEnvManagerModelOptions = {}) {
    this._onKernelsChanged = options.onKernelsChanged;
    this._poll = new Poll({
      auto: false,
      factory: () => this.refresh(),
      frequency: {
        interval: (options.pollInterval ?? 3) * 1000,
        backoff: true,
        max: 60 * 1000
      },
      name: 'jupyter-envmgr:environments',
      standby: () => (this._watchers > 0 ? 'when-hidden' : true)
    });
    this._tasks.changed.connect(() => this._tasksChanged.emit());
    this._tasks.started.connect((_, tracker) =>
      this._taskStarted.emit(tracker)
    );
    this._tasks.finished.connect((_, tracker) => {
      this._taskFinished.emit(tracker);
      void this._refreshAfterTask();
    });
  }

  // -- state ------------------------------------------------------------------------------

  get environments(): ReadonlyArray<IEnvironment> {
    return this._envs;
  }

  /** Null before the first listing answered. */
  get loaded(): boolean {
    return this._loaded;
  }

  /** The last error of the polled listing, or null. */
  get listError(): string | null {
    return this._listError;
  }

  get kernels(): ReadonlyArray<IKernel> {
    return this._kernels;
  }

  get tasks(): ReadonlyArray<TaskTracker> {
    return this._tasks.all;
  }

  get settings(): ISettings | null {
    return this._settings;
  }

  /** Why the settings could not be read (they need the `execute` permission). */
  get settingsError(): string | null {
    return this._settingsError;
  }

  get usage(): IUsageReport | null {
    return this._usage;
  }

  get usageError(): string | null {
    return this._usageError;
  }

  /** The last report by owner (`usage/owners`), or null before the first. */
  get usageByOwner(): IOwnerUsage | null {
    return this._usageByOwner;
  }

  get usageByOwnerError(): string | null {
    return this._usageByOwnerError;
  }

  /** True while the walk by owner runs (it reads every file of every env and cache). */
  get usageByOwnerLoading(): boolean {
    return this._usageByOwnerLoading;
  }

  /** Sizes by prefix, from the last listing with sizes. */
  size(env: IEnvironment): IEnvSize | undefined {
    return this._sizes.get(env.prefix);
  }

  get sizesLoading(): boolean {
    return this._sizesLoading;
  }

  environment(name: string): IEnvironment | undefined {
    return this._envs.find(
      e => e.key === name || e.name === name || (e.is_root && name === 'base')
    );
  }

  /**
   * What the UI calls the env `key`: its name, or for an env outside the envs dirs its
   * folder's name (the location is shown beside it: `envLocation`).
   */
  envLabel(key: string): string {
    const env = this.environment(key);
    return env ? (env.name ?? baseName(env.prefix)) : key;
  }

  /** The folder an env outside the envs dirs is in; null for a named env. */
  envLocation(key: string): string | null {
    const env = this.environment(key);
    return env && !env.name
      ? env.prefix.slice(0, -baseName(env.prefix).length - 1)
      : null;
  }

  /** The env kernels of the env `key` (its name, or `~<folder>-<hash>`). */
  kernelsOf(key: string): IKernel[] {
    return this._kernels.filter(k => (k.env.key ?? k.env.name) === key);
  }

  /** The env key of a kernelspec name, or null when it is not an env kernel. */
  envOfKernel(kernelName: string | undefined | null): string | null {
    if (!kernelName) {
      return null;
    }
    const kernel =
      this._kernels.find(k => k.name === kernelName) ??
      this.kernelOfAlias(kernelName);
    return kernel ? (kernel.env.key ?? kernel.env.name) : null;
  }

  /** The env kernel a name nb_conda_kernels gave it stands for (see aliases.ts). */
  kernelOfAlias(name: string): IKernel | undefined {
    const lower = name.toLowerCase(); // Jupyter compares kernel names in lower case
    return this._kernels.find(k => (k.aliases ?? []).includes(lower));
  }

  /** Whether the env kernels were listed once. */
  get kernelsLoaded(): boolean {
    return this._kernelsLoaded;
  }

  /** Resolves once the env kernels were listed, or the first listing failed. */
  get kernelsReady(): Promise<void> {
    return this._kernelsReady.promise;
  }

  /** The unfinished tasks on the env `name`. */
  runningOn(name: string): TaskTracker[] {
    return this.tasks.filter(t => !t.finished && t.task.env === name);
  }

  get envsChanged(): ISignal<this, void> {
    return this._envsChanged;
  }

  get kernelsChanged(): ISignal<this, void> {
    return this._kernelsChanged;
  }

  /** A task was added, or changed state (its progress: TaskTracker.changed). */
  get tasksChanged(): ISignal<this, void> {
    return this._tasksChanged;
  }

  /** A task ended; views of its env reload what they show. */
  /** A task was started from this page (its progress: TaskTracker.changed). */
  get taskStarted(): ISignal<this, TaskTracker> {
    return this._taskStarted;
  }

  get taskFinished(): ISignal<this, TaskTracker> {
    return this._taskFinished;
  }

  get usageChanged(): ISignal<this, void> {
    return this._usageChanged;
  }

  get settingsChanged(): ISignal<this, void> {
    return this._settingsChanged;
  }

  // -- polling ----------------------------------------------------------------------------

  /**
   * A view that shows environments is visible: poll while any is (and the page is shown).
   * Returns what ends the watch.
   */
  watch(): IDisposable {
    this._watchers++;
    if (this._watchers === 1) {
      void this._poll.start().then(() => this._poll.refresh());
    }
    let disposed = false;
    return {
      get isDisposed() {
        return disposed;
      },
      dispose: () => {
        if (!disposed) {
          disposed = true;
          this._watchers--;
        }
      }
    };
  }

  set pollInterval(seconds: number) {
    const interval = Math.max(1, seconds) * 1000;
    this._poll.frequency = { ...this._poll.frequency, interval };
  }

  /** The environments, kernels and tasks again (cheap: no sizes). */
  async refresh(): Promise<void> {
    let envs: IEnvironment[];
    try {
      envs = (
        await requestAPI<{ environments: IEnvironment[] }>('environments')
      ).environments;
      this._listError = null;
    } catch (error) {
      const message = errorMessage(error);
      if (message !== this._listError) {
        this._listError = message;
        this._envsChanged.emit();
      }
      this._kernelsReady.resolve();
      throw error;
    }
    const signature = JSON.stringify(
      envs.map(e => [e.name, e.prefix, e.read_only])
    );
    const changed = signature !== this._signature || !this._loaded;
    this._signature = signature;
    this._envs = envs;
    this._loaded = true;
    if (changed) {
      this._envsChanged.emit();
    }
    await Promise.all([this.refreshKernels(), this.refreshTasks()]);
    if (changed && this._sizesWanted) {
      void this.refreshSizes();
    }
  }

  async refreshKernels(): Promise<void> {
    let kernels: IKernel[];
    try {
      kernels = (await requestAPI<{ kernels: IKernel[] }>('kernels')).kernels;
    } catch (error) {
      this._kernelsReady.resolve(); // a notebook waiting for them must not wait forever
      throw error;
    }
    this._kernelsLoaded = true;
    const signature = JSON.stringify(
      kernels.map(k => [k.name, k.env.name, k.display_name, k.aliases])
    );
    if (signature !== this._kernelSignature) {
      this._kernelSignature = signature;
      this._kernels = kernels;
      this._kernelsChanged.emit();
      this._onKernelsChanged?.();
    }
    this._kernelsReady.resolve();
  }

  /** Tasks started elsewhere (another tab) show up and are followed too. */
  refreshTasks(): Promise<void> {
    return this._tasks.refresh();
  }

  /** Each env's disk use (one walk of every env and the cache). */
  async refreshSizes(): Promise<void> {
    this._sizesWanted = true;
    if (this._sizesLoading) {
      // A walk already running may have read an env before a change just made to it:
      // walk again when it ends, so the sidebar never keeps the size from before.
      this._sizesAgain = true;
      return;
    }
    this._sizesLoading = true;
    this._envsChanged.emit();
    try {
      const envs = (
        await requestAPI<{ environments: IEnvironment[] }>('environments', {
          query: { sizes: 'true' }
        })
      ).environments;
      this._sizes = new Map(
        envs.filter(e => e.size).map(e => [e.prefix, e.size!])
      );
    } finally {
      this._sizesLoading = false;
      this._envsChanged.emit();
    }
    if (this._sizesAgain) {
      this._sizesAgain = false;
      await this.refreshSizes();
    }
  }

  async loadSettings(): Promise<ISettings | null> {
    try {
      this._settings = await requestAPI<ISettings>('settings');
      this._settingsError = null;
    } catch (error) {
      this._settings = null;
      this._settingsError = errorMessage(error);
    }
    this._settingsChanged.emit();
    return this._settings;
  }

  async refreshUsage(): Promise<void> {
    try {
      this._usage = await requestAPI<IUsageReport>('usage');
      this._usageError = null;
    } catch (error) {
      this._usageError = errorMessage(error);
    }
    this._usageChanged.emit();
  }

  /** Bytes and inodes per owner across envs and caches; one walk at a time. */
  async refreshUsageByOwner(): Promise<void> {
    if (this._usageByOwnerLoading) {
      return;
    }
    this._usageByOwnerLoading = true;
    this._usageChanged.emit();
    try {
      this._usageByOwner = await requestAPI<IOwnerUsage>('usage/owners');
      this._usageByOwnerError = null;
    } catch (error) {
      this._usageByOwnerError = errorMessage(error);
    } finally {
      this._usageByOwnerLoading = false;
    }
    this._usageChanged.emit();
  }

  // -- reads ------------------------------------------------------------------------------

  getEnvironment(name: string): Promise<IEnvironmentDetail> {
    return requestAPI<IEnvironmentDetail>(
      `environments/${encodeURIComponent(name)}`
    );
  }

  async revisions(name: string): Promise<IRevision[]> {
    const path = `environments/${encodeURIComponent(name)}/revisions`;
    return (await requestAPI<{ revisions: IRevision[] }>(path)).revisions;
  }

  async search(query: string, channels?: string[]): Promise<ISearchResult[]> {
    const answer = await requestAPI<{ packages: ISearchResult[] }>('search', {
      query: { q: query, channel: channels }
    });
    return answer.packages;
  }

  /**
   * Specs a new env could start from, found in `channels` (the server's when none): the
   * create form's placeholder. Read once per channel list on this page; none when unknown.
   */
  suggestedSpecs(channels?: string[]): Promise<string[]> {
    const key = JSON.stringify(channels ?? null);
    let answer = this._suggestedSpecs.get(key);
    if (!answer) {
      answer = requestAPI<ISuggestedSpecs>('suggested-specs', {
        query: { channel: channels }
      }).then(
        found => found.specs,
        () => {
          this._suggestedSpecs.delete(key); // asked again next time
          return [];
        }
      );
      this._suggestedSpecs.set(key, answer);
    }
    return answer;
  }

  /** The env as a file; lock formats also for `platforms` (its own is always in). */
  exportEnv(
    name: string,
    format: ExportFormat,
    platforms: string[] = []
  ): Promise<{ text: string; filename: string; type: string }> {
    return requestFile(`environments/${encodeURIComponent(name)}/export`, {
      query: { format, platform: platforms.length ? platforms : undefined }
    });
  }

  /** The last clean preview (what would go, what is kept and why), or null. */
  get cleanPlan(): ICleanPlan | null {
    return this._cleanPlan;
  }

  get cleanPlanError(): string | null {
    return this._cleanPlanError;
  }

  get cleanPlanChanged(): ISignal<this, void> {
    return this._cleanPlanChanged;
  }

  async previewClean(categories: CleanCategory[]): Promise<ICleanPlan | null> {
    // The previous plan goes first: "Clean now" must never act on a preview of other choices.
    this._cleanPlan = null;
    this._cleanPlanChanged.emit();
    try {
      this._cleanPlan = await requestAPI<ICleanPlan>('clean', {
        query: { category: categories }
      });
      this._cleanPlanError = null;
    } catch (error) {
      this._cleanPlan = null;
      this._cleanPlanError = errorMessage(error);
    }
    this._cleanPlanChanged.emit();
    return this._cleanPlan;
  }

  // -- changes (tasks) --------------------------------------------------------------------

  create(request: ICreateRequest): Promise<TaskTracker> {
    return this._start('environments', { method: 'POST', body: request });
  }

  install(
    env: string,
    specs: string[],
    channels?: string[]
  ): Promise<TaskTracker> {
    const body: any = { specs };
    if (channels && channels.length) {
      body.channels = channels;
    }
    return this._start(this._packagesPath(env), { method: 'POST', body });
  }

  update(env: string, specs: string[]): Promise<TaskTracker> {
    return this._start(this._packagesPath(env), {
      method: 'PATCH',
      body: { specs }
    });
  }

  updateAll(env: string): Promise<TaskTracker> {
    return this._start(this._packagesPath(env), {
      method: 'PATCH',
      body: { all: true }
    });
  }

  remove(env: string, specs: string[]): Promise<TaskTracker> {
    return this._start(this._packagesPath(env), {
      method: 'DELETE',
      query: { spec: specs }
    });
  }

  rollback(env: string, revision: number): Promise<TaskTracker> {
    return this._start(`environments/${encodeURIComponent(env)}/revisions`, {
      method: 'POST',
      body: { revision }
    });
  }

  clone(env: string, name: string): Promise<TaskTracker> {
    return this._start(`environments/${encodeURIComponent(env)}/clone`, {
      method: 'POST',
      body: { name }
    });
  }

  deleteEnv(env: string): Promise<TaskTracker> {
    return this._start(`environments/${encodeURIComponent(env)}`, {
      method: 'DELETE'
    });
  }

  /** What a notebook embeds to carry `env` (`metadata.envmgr` and its kernelspec). */
  notebookLock(env: string, lockId?: string | null): Promise<INotebookLock> {
    return requestAPI<INotebookLock>(
      `environments/${encodeURIComponent(env)}/notebook-lock`,
      { query: { lock_id: lockId || undefined } }
    );
  }

  /** The SLURM job script running `request.command` in `env` (nothing is changed). */
  batchScript(env: string, request: IBatchRequest): Promise<IBatchScript> {
    return requestAPI<IBatchScript>(
      `environments/${encodeURIComponent(env)}/batch-script`,
      { query: { ...request } }
    );
  }

  /** Submit that script with the server's sbatch: the job id. */
  submitBatch(env: string, request: IBatchRequest): Promise<IBatchJob> {
    return requestAPI<IBatchJob>(
      `environments/${encodeURIComponent(env)}/batch-jobs`,
      { method: 'POST', body: request }
    );
  }

  /** How `env` differs from the lock in a notebook's metadata (nothing is changed). */
  notebookDrift(metadata: unknown, env: string): Promise<INotebookDrift> {
    return requestAPI<INotebookDrift>('notebook/drift', {
      method: 'POST',
      body: { metadata, env }
    });
  }

  /** Make or update the env a notebook carries (its whole metadata); a 'sync' task. */
  syncNotebook(
    metadata: unknown,
    name?: string,
    path?: string
  ): Promise<TaskTracker> {
    // The notebook's path: an env sync made for this notebook is its own to update.
    const body: { [key: string]: unknown } = { metadata, path };
    if (name) {
      body.name = name;
    }
    return this._start('notebook/sync', { method: 'POST', body });
  }

  /**
   * What syncing a notebook's env would do, nothing done: which env is created or updated,
   * what is added, removed or changed, and the channels and hosts it may fetch from.
   */
  previewNotebookSync(
    metadata: unknown,
    name?: string,
    path?: string
  ): Promise<INotebookSyncPreview> {
    const body: { [key: string]: unknown } = { metadata, dry_run: true, path };
    if (name) {
      body.name = name;
    }
    return requestAPI<INotebookSyncPreview>('notebook/sync', {
      method: 'POST',
      body
    });
  }

  clean(categories: CleanCategory[]): Promise<TaskTracker> {
    return this._start('clean', { method: 'POST', body: { categories } });
  }

  cancel(tracker: TaskTracker): Promise<void> {
    return this._tasks.cancel(tracker);
  }

  /** Forget the finished tasks (the server keeps them; they stay hidden here). */
  clearFinished(): void {
    this._tasks.clearFinished();
  }

  /** Forget one finished task (its card goes). */
  dismissTask(tracker: TaskTracker): void {
    this._tasks.dismiss(tracker);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._poll.dispose();
    this._tasks.dispose();
    Signal.clearData(this);
  }

  private _packagesPath(env: string): string {
    return `environments/${encodeURIComponent(env)}/packages`;
  }

  private _start(
    path: string,
    options: Parameters<typeof requestAPI>[1]
  ): Promise<TaskTracker> {
    return this._tasks.start(path, options);
  }

  /** What a task changed: the list, the kernels (JupyterLab's too), the sizes. */
  private async _refreshAfterTask(): Promise<void> {
    try {
      await this.refresh();
      if (this._sizesWanted) {
        void this.refreshSizes();
      }
    } catch {
      // shown by the listing's error
    }
  }

  private _envs: IEnvironment[] = [];
  private _loaded = false;
  private _listError: string | null = null;
  private _signature = '';
  private _kernels: IKernel[] = [];
  private _kernelSignature = '';
  private _kernelsLoaded = false;
  private _kernelsReady = new PromiseDelegate<void>();
  private _sizes = new Map<string, IEnvSize>();
  private _sizesLoading = false;
  private _sizesAgain = false;
  private _sizesWanted = false;
  private _tasks = new TaskList();
  private _settings: ISettings | null = null;
  private _settingsError: string | null = null;
  private _usage: IUsageReport | null = null;
  private _usageError: string | null = null;
  private _usageByOwner: IOwnerUsage | null = null;
  private _usageByOwnerError: string | null = null;
  private _usageByOwnerLoading = false;
  private _cleanPlan: ICleanPlan | null = null;
  private _cleanPlanError: string | null = null;
  private _cleanPlanChanged = new Signal<this, void>(this);
  private _watchers = 0;
  private _poll: Poll;
  private _isDisposed = false;
  private _onKernelsChanged?: () => void;
  private _envsChanged = new Signal<this, void>(this);
  private _kernelsChanged = new Signal<this, void>(this);
  private _tasksChanged = new Signal<this, void>(this);
  private _taskFinished = new Signal<this, TaskTracker>(this);
  private _taskStarted = new Signal<this, TaskTracker>(this);
  private _usageChanged = new Signal<this, void>(this);
  private _suggestedSpecs = new Map<string, Promise<string[]>>();
  private _settingsChanged = new Signal<this, void>(this);
}

/** The last part of a path. */
function baseName(path: string): string {
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts[parts.length - 1] ?? path;
}
