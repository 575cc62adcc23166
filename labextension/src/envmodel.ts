/**
 * The state of one environment's view: its packages and revisions, reloaded when a task on
 * it ends or when the listing changes; suggestions from search. Changes go through the main
 * model (tasks); `run` lets the application wrap them (the kernel restart offer).
 */
import { ISignal, Signal } from '@lumino/signaling';
import { IDisposable } from '@lumino/disposable';

import { EnvManagerModel, TaskTracker } from './model';
import { errorMessage } from './request';
import {
  ExportFormat,
  IEnvironmentDetail,
  IRevision,
  ISearchResult
} from './types';

/** Starts a change and returns its tracker; the app may wrap it (restart offer). */
export type ChangeRunner = (
  env: string,
  start: () => Promise<TaskTracker>
) => Promise<TaskTracker>;

export class EnvModel implements IDisposable {
  constructor(
    readonly name: string,
    readonly manager: EnvManagerModel,
    private _runner: ChangeRunner = (_env, start) => start()
  ) {
    manager.taskFinished.connect(this._onTaskFinished, this);
    manager.envsChanged.connect(this._onEnvsChanged, this);
  }

  get detail(): IEnvironmentDetail | null {
    return this._detail;
  }

  get revisions(): IRevision[] {
    return this._revisions;
  }

  get loading(): boolean {
    return this._loading;
  }

  /** Why the env could not be read (e.g. it was deleted). */
  get loadError(): string | null {
    return this._loadError;
  }

  /** The last refused request (4xx at once: a bad spec, a 403 of the admin policy). */
  get actionError(): string | null {
    return this._actionError;
  }

  get suggestions(): ISearchResult[] {
    return this._suggestions;
  }

  get exists(): boolean {
    return (
      this.manager.environment(this.name) !== undefined || this._detail !== null
    );
  }

  get readOnly(): boolean {
    return (
      this._detail?.read_only ??
      this.manager.environment(this.name)?.read_only ??
      false
    );
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  async reload(): Promise<void> {
    this._loading = true;
    this._changed.emit();
    try {
      const [detail, revisions] = await Promise.all([
        this.manager.getEnvironment(this.name),
        this.manager.revisions(this.name)
      ]);
      this._detail = detail;
      this._revisions = revisions;
      this._loadError = null;
    } catch (error) {
      this._detail = null;
      this._loadError = errorMessage(error);
    } finally {
      this._loading = false;
      this._changed.emit();
    }
  }

  /**
   * The versions the channels have of the package being typed (for the install box). The
   * server's search takes a match spec: a whole name, not a prefix.
   */
  async suggest(text: string): Promise<void> {
    const word = text.trim().split(/\s+/).pop() ?? '';
    const name = word.replace(/[<>=!~ ].*$/, '');
    if (name.length < 1 || /[^A-Za-z0-9_.-]/.test(name)) {
      return;
    }
    const serial = ++this._searchSerial;
    try {
      const found = await this.manager.search(name);
      if (serial === this._searchSerial) {
        this._suggestions = found;
        this._changed.emit();
      }
    } catch {
      // suggestions are a help, not a requirement
    }
  }

  install(specs: string[]): Promise<TaskTracker | null> {
    return this._run(() => this.manager.install(this.name, specs));
  }

  update(specs: string[]): Promise<TaskTracker | null> {
    return this._run(() => this.manager.update(this.name, specs));
  }

  updateAll(): Promise<TaskTracker | null> {
    return this._run(() => this.manager.updateAll(this.name));
  }

  remove(specs: string[]): Promise<TaskTracker | null> {
    return this._run(() => this.manager.remove(this.name, specs));
  }

  rollback(revision: number): Promise<TaskTracker | null> {
    return this._run(() => this.manager.rollback(this.name, revision));
  }

  clone(name: string): Promise<TaskTracker | null> {
    return this._guard(() => this.manager.clone(this.name, name));
  }

  deleteEnv(): Promise<TaskTracker | null> {
    return this._guard(() => this.manager.deleteEnv(this.name));
  }

  async exportEnv(
    format: ExportFormat,
    platforms: string[] = []
  ): Promise<{ text: string; filename: string; type: string } | null> {
    try {
      const file = await this.manager.exportEnv(this.name, format, platforms);
      this._setActionError(null);
      return file;
    } catch (error) {
      this._setActionError(errorMessage(error));
      return null;
    }
  }

  clearActionError(): void {
    this._setActionError(null);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  private _run(start: () => Promise<TaskTracker>): Promise<TaskTracker | null> {
    return this._guard(() => this._runner(this.name, start));
  }

  /** A refused request shows its message in the view (nothing changed). */
  private async _guard(
    start: () => Promise<TaskTracker>
  ): Promise<TaskTracker | null> {
    try {
      const tracker = await start();
      this._setActionError(null);
      return tracker;
    } catch (error) {
      this._setActionError(errorMessage(error));
      return null;
    }
  }

  private _setActionError(message: string | null): void {
    this._actionError = message;
    this._changed.emit();
  }

  private _onTaskFinished(_: EnvManagerModel, tracker: TaskTracker): void {
    if (tracker.task.env === this.name) {
      void this.reload();
    }
  }

  private _onEnvsChanged(): void {
    const listed = this.manager.environment(this.name) !== undefined;
    // Created or deleted elsewhere: read it again.
    if (listed !== (this._detail !== null) && this.manager.loaded) {
      void this.reload();
    } else {
      this._changed.emit();
    }
  }

  private _detail: IEnvironmentDetail | null = null;
  private _revisions: IRevision[] = [];
  private _loading = false;
  private _loadError: string | null = null;
  private _actionError: string | null = null;
  private _suggestions: ISearchResult[] = [];
  private _searchSerial = 0;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
}
