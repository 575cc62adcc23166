/**
 * The tasks this page knows: those started here and those the model's polling finds (started in
 * another tab), each followed over server-sent events until it ends, polled when the stream
 * breaks, and cancelled on request. The model owns one TaskList and forwards its signals.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { ITaskProgress, applyEvent, emptyProgress } from './progress';
import { trans } from './i18n';
import { errorMessage, requestAPI, streamEvents } from './request';
import { FINAL_STATES, ITask, ITaskWithEvents } from './types';

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
      return task.error?.message ?? trans.__('Failed');
    }
    if (task.state === 'cancelled') {
      return trans.__('Cancelled; the environment is as it was.');
    }
    if (task.state === 'done') {
      return trans.__('Done');
    }
    return this.progress.status;
  }

  /** The title of the task: "Install into data", "Create data", "Clean the cache". */
  get title(): string {
    const env = this.task.env ?? '';
    switch (this.task.kind) {
      case 'create':
        return trans.__('Create %1', env);
      case 'install':
        return trans.__('Install into %1', env);
      case 'update':
        return trans.__('Update in %1', env);
      case 'update-all':
        return trans.__('Update all in %1', env);
      case 'remove':
        return trans.__('Remove from %1', env);
      case 'rollback':
        return trans.__('Roll back %1', env);
      case 'sync':
        return trans.__('Sync %1 with its notebook', env);
      case 'delete':
        return trans.__('Delete %1', env);
      case 'clean':
        return trans.__('Clean the package cache');
      default:
        return `${this.task.kind} ${env}`;
    }
  }

  /** @internal the task list feeds events and states. */
  update(task: Partial<ITask>): void {
    const wasFinished = this.finished;
    this.task = { ...this.task, ...task };
    if (this.task.state === 'running' && this.progress.phase === 'queued') {
      this.progress.status = trans.__('Running');
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

/** Every task this page shows, by id; each unfinished one followed until it ends. */
export class TaskList implements IDisposable {
  /** Newest first. */
  get all(): ReadonlyArray<TaskTracker> {
    return [...this._trackers.values()].sort(
      (a, b) => b.task.created - a.task.created
    );
  }

  /** A task was added, or changed state (its progress: TaskTracker.changed). */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** A task was started from this page (not one found started elsewhere). */
  get started(): ISignal<this, TaskTracker> {
    return this._started;
  }

  /** A followed task ended (its final state is known). */
  get finished(): ISignal<this, TaskTracker> {
    return this._finished;
  }

  /** Start a task with one request (the server answers with the task) and follow it. */
  async start(
    path: string,
    options: Parameters<typeof requestAPI>[1]
  ): Promise<TaskTracker> {
    const task = await requestAPI<ITask>(path, options);
    const tracker = this._track(task);
    this._changed.emit();
    this._started.emit(tracker);
    return tracker;
  }

  /** Tasks started elsewhere (another tab) show up and are followed too. */
  async refresh(): Promise<void> {
    const tasks = (await requestAPI<{ tasks: ITask[] }>('tasks')).tasks;
    let changed = false;
    for (const task of tasks) {
      const known = this._trackers.get(task.id);
      if (!known) {
        this._track(task);
        changed = true;
      } else if (known.finished && known.task.state !== task.state) {
        known.update(task);
      }
    }
    if (changed) {
      this._changed.emit();
    }
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

  /** Forget one finished task (a failed one the user has read); it stays hidden here. */
  dismiss(tracker: TaskTracker): void {
    if (tracker.finished && this._trackers.delete(tracker.id)) {
      this._hidden.add(tracker.id);
      this._changed.emit();
    }
  }

  /** Forget the finished tasks (the server keeps them; they stay hidden here). */
  clearFinished(): void {
    for (const [id, tracker] of this._trackers) {
      if (tracker.finished) {
        this._hidden.add(id);
        this._trackers.delete(id);
      }
    }
    this._changed.emit();
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    // Ends every event stream still open.
    this._abort.abort();
    Signal.clearData(this);
  }

  private _track(task: ITask): TaskTracker {
    const known = this._trackers.get(task.id);
    if (known) {
      return known;
    }
    const tracker = new TaskTracker(task);
    if (this._hidden.has(task.id)) {
      return tracker;
    }
    this._trackers.set(task.id, tracker);
    // The list's views re-render when a task changes state; progress re-renders its own view.
    let state = tracker.task.state;
    tracker.changed.connect(() => {
      if (tracker.task.state !== state) {
        state = tracker.task.state;
        this._changed.emit();
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
    this._finished.emit(tracker);
  }

  private _trackers = new Map<string, TaskTracker>();
  /** Tasks cleared by the user: the server still lists them, this page does not. */
  private _hidden = new Set<string>();
  private _abort = new AbortController();
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
  private _finished = new Signal<this, TaskTracker>(this);
  private _started = new Signal<this, TaskTracker>(this);
}
