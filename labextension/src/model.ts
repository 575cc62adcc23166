/**
 * The state of the UI and the only user of request.ts: environments (polled while shown, so
 * changes made by the CLI, another tab or a magic appear without a reload), their sizes and
 * kernels, the tasks and their progress (server-sent events), settings and disk usage.
 * Views read it and listen to its signals; they never fetch.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import { IDisposable } from '@lumino/disposable';

import { ITaskProgress, applyEvent, emptyProgress } from './progress';
import { errorMessage, requestAPI, requestFile, streamEvents } from './request';
import {
  CleanCategory,
  FINAL_STATES,
  ICleanPlan,
  ICreateRequest,
  IEnvSize,
  IEnvironment,
  IEnvironmentDetail,
  IKernel,
  IRevision,
  ISearchResult,
  INotebookLock,
  ISettings,
  ITask,
  ITaskWithEvents,
  IUsageReport,
  ExportFormat
} from './types';

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

/** A task and its progress, followed over server-sent events until it ends. */
export class TaskTracker {
  constructor(task: ITask) {
    this.task = task;
    this._done = new Promise(resolve => (this._resolve = resolve));
    if (this.finished) {
      this.progress.phase = task.state as ITaskProgress['phase'];
      this.progress.status = this.describeEnd();
      this._resolve(task);
    }
  }

  task: ITask;
  readonly progress: ITaskProgress = emptyProgress();

  get id(): string {
    return this.task.id;
  }

  get finished(): boolean {
    return FINAL_STATES.includes(this.task.state);
  }

  /** Resolves with the task once it ended (done, failed or cancelled). */
  get done(): Promise<ITask> {
    return this._done;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** One line saying how the task ended, or where it is. */
  describeEnd(): string {
    const task = this.task;
    if (task.state === 'failed') {
      return task.error?.message ?? 'Failed';
    }
    if (task.state === 'cancelled') {
      return 'Cancelled; the environment is as it was.';
    }
    if (task.state === 'done') {
      return 'Done';
    }
    return this.progress.status;
  }

  /** The title of the task: "Install into data", "Create data", "Clean the cache". */
  get title(): string {
    const env = this.task.env ?? '';
    switch (this.task.kind) {
      case 'create':
        return `Create ${env}`;
      case 'install':
        return `Install into ${env}`;
      case 'update':
        return `Update in ${env}`;
      case 'update-all':
        return `Update all in ${env}`;
      case 'remove':
        return `Remove from ${env}`;
      case 'rollback':
        return `Roll back ${env}`;
      case 'sync':
        return `Sync ${env} with its notebook`;
      case 'delete':
        return `Delete ${env}`;
      case 'clean':
        return 'Clean the package cache';
      default:
        return `${this.task.kind} ${env}`;
    }
  }

  /** @internal the model feeds events and states. */
  update(task: Partial<ITask>): void {
    const wasFinished = this.finished;
    this.task = { ...this.task, ...task };
    if (this.task.state === 'running' && this.progress.phase === 'queued') {
      this.progress.status = 'Running';
    }
    if (this.finished && !wasFinished) {
      this.progress.phase = this.task.state as ITaskProgress['phase'];
      this.progress.status = this.describeEnd();
      if (this.task.state === 'done') {
        this.progress.fraction = 1;
      }
      this._resolve(this.task);
    }
    this._changed.emit();
  }

  /** @internal */
  applyEvents(events: ITaskWithEvents['events']): void {
    let changed = false;
    for (const event of events) {
      changed = applyEvent(this.progress, event) || changed;
      // The server says "running" only in the task's state; any event past "queued" means it.
      if (this.task.state === 'queued' && event.event !== 'queued') {
        this.task = { ...this.task, state: 'running' };
      }
      if (event.event === 'lock-wait' && this.task.state === 'running') {
        this.task = { ...this.task, state: 'waiting' };
      } else if (this.task.state === 'waiting' && event.event !== 'lock-wait') {
        this.task = { ...this.task, state: 'running' };
      }
      if (FINAL_STATES.includes(event.event as ITask['state'])) {
        this.update({
          state: event.event as ITask['state'],
          result: event.result ?? null,
          error: event.error ?? null
        });
      }
    }
    if (changed) {
      this._changed.emit();
    }
  }

  private _done: Promise<ITask>;
  private _resolve!: (task: ITask) => void;
  private _changed = new Signal<this, void>(this);
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
    return [...this._tasks.values()].sort(
      (a, b) => b.task.created - a.task.created
    );
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

  /** Sizes by prefix, from the last listing with sizes. */
  size(env: IEnvironment): IEnvSize | undefined {
    return this._sizes.get(env.prefix);
  }

  get sizesLoading(): boolean {
    return this._sizesLoading;
  }

  environment(name: string): IEnvironment | undefined {
    return this._envs.find(
      e => e.name === name || (e.is_root && name === 'base')
    );
  }

  /** The env kernels of the env `name`. */
  kernelsOf(name: string): IKernel[] {
    return this._kernels.filter(k => k.env.name === name);
  }

  /** The env name of a kernelspec name, or null when it is not an env kernel. */
  envOfKernel(kernelName: string | undefined | null): string | null {
    if (!kernelName) {
      return null;
    }
    return this._kernels.find(k => k.name === kernelName)?.env.name ?? null;
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
    const kernels = (await requestAPI<{ kernels: IKernel[] }>('kernels'))
      .kernels;
    const signature = JSON.stringify(
      kernels.map(k => [k.name, k.env.name, k.display_name])
    );
    if (signature !== this._kernelSignature) {
      this._kernelSignature = signature;
      this._kernels = kernels;
      this._kernelsChanged.emit();
      this._onKernelsChanged?.();
    }
  }

  /** Tasks started elsewhere (another tab) show up and are followed too. */
  async refreshTasks(): Promise<void> {
    const tasks = (await requestAPI<{ tasks: ITask[] }>('tasks')).tasks;
    let changed = false;
    for (const task of tasks) {
      const known = this._tasks.get(task.id);
      if (!known) {
        this._track(task);
        changed = true;
      } else if (known.finished && known.task.state !== task.state) {
        known.update(task);
      }
    }
    if (changed) {
      this._tasksChanged.emit();
    }
  }

  /** Each env's disk use (one walk of every env and the cache). */
  async refreshSizes(): Promise<void> {
    this._sizesWanted = true;
    if (this._sizesLoading) {
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

  exportEnv(
    name: string,
    format: ExportFormat
  ): Promise<{ text: string; filename: string; type: string }> {
    return requestFile(`environments/${encodeURIComponent(name)}/export`, {
      query: { format }
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

  async cancel(tracker: TaskTracker): Promise<void> {
    const task = await requestAPI<ITask>(
      `tasks/${encodeURIComponent(tracker.id)}`,
      {
        method: 'DELETE'
      }
    );
    if (!tracker.finished) {
      tracker.update({ state: task.state });
    }
  }

  /** Forget the finished tasks (the server keeps them; they stay hidden here). */
  clearFinished(): void {
    for (const [id, tracker] of this._tasks) {
      if (tracker.finished) {
        this._hidden.add(id);
        this._tasks.delete(id);
      }
    }
    this._tasksChanged.emit();
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
    this._abort.abort();
    Signal.clearData(this);
  }

  private _packagesPath(env: string): string {
    return `environments/${encodeURIComponent(env)}/packages`;
  }

  private async _start(
    path: string,
    options: Parameters<typeof requestAPI>[1]
  ): Promise<TaskTracker> {
    const task = await requestAPI<ITask>(path, options);
    const tracker = this._track(task);
    this._tasksChanged.emit();
    return tracker;
  }

  private _track(task: ITask): TaskTracker {
    const known = this._tasks.get(task.id);
    if (known) {
      return known;
    }
    const tracker = new TaskTracker(task);
    if (this._hidden.has(task.id)) {
      return tracker;
    }
    this._tasks.set(task.id, tracker);
    // The list's views re-render when a task changes state; progress re-renders its own view.
    let state = tracker.task.state;
    tracker.changed.connect(() => {
      if (tracker.task.state !== state) {
        state = tracker.task.state;
        this._tasksChanged.emit();
      }
    });
    if (!tracker.finished) {
      void this._follow(tracker);
    }
    return tracker;
  }

  /** Events pushed by the server until the task ends; polling if the stream breaks. */
  private async _follow(tracker: TaskTracker): Promise<void> {
    const path = `tasks/${encodeURIComponent(tracker.id)}`;
    try {
      for await (const event of streamEvents(
        `${path}/events`,
        this._abort.signal
      )) {
        tracker.applyEvents([event]);
      }
    } catch (error) {
      if (this._isDisposed) {
        return;
      }
      console.warn(`jupyter-envmgr: following task ${tracker.id}:`, error);
    }
    // The stream ended: the task's final state (also when the stream broke early).
    let seen = tracker.progress.events;
    while (!tracker.finished && !this._isDisposed) {
      try {
        const task = await requestAPI<ITaskWithEvents>(path);
        tracker.applyEvents(task.events.slice(seen));
        seen = task.events.length;
        const { events, ...rest } = task;
        void events;
        tracker.update(rest);
      } catch (error) {
        tracker.update({
          state: 'failed',
          error: { message: errorMessage(error), reason: 'error' }
        });
      }
      if (!tracker.finished) {
        await new Promise(resolve => setTimeout(resolve, 1000));
      }
    }
    this._taskFinished.emit(tracker);
    // What the task changed: the list, the kernels (JupyterLab's too), the sizes.
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
  private _sizes = new Map<string, IEnvSize>();
  private _sizesLoading = false;
  private _sizesWanted = false;
  private _tasks = new Map<string, TaskTracker>();
  private _hidden = new Set<string>();
  private _settings: ISettings | null = null;
  private _settingsError: string | null = null;
  private _usage: IUsageReport | null = null;
  private _usageError: string | null = null;
  private _cleanPlan: ICleanPlan | null = null;
  private _cleanPlanError: string | null = null;
  private _cleanPlanChanged = new Signal<this, void>(this);
  private _watchers = 0;
  private _poll: Poll;
  private _abort = new AbortController();
  private _isDisposed = false;
  private _onKernelsChanged?: () => void;
  private _envsChanged = new Signal<this, void>(this);
  private _kernelsChanged = new Signal<this, void>(this);
  private _tasksChanged = new Signal<this, void>(this);
  private _taskFinished = new Signal<this, TaskTracker>(this);
  private _usageChanged = new Signal<this, void>(this);
  private _settingsChanged = new Signal<this, void>(this);
}
