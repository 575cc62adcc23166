/**
 * Lumino widgets hosting the React views; they start and stop the model's polling when shown.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { IDisposable } from '@lumino/disposable';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { IViewActions, NotebooksChanged } from './components/actions';
import { CreatePanel } from './components/CreatePanel';
import { DiskPanel } from './components/DiskPanel';
import { EnvPanel } from './components/EnvPanel';
import { Sidebar } from './components/Sidebar';
import { EnvModel } from './envmodel';
import { EnvManagerModel } from './model';

/** Polls the environments while shown (changes made elsewhere appear without a reload). */
abstract class WatchingWidget extends ReactWidget {
  constructor(protected model: EnvManagerModel) {
    super();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._watch?.dispose();
    this._watch = this.model.watch();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible && !this._watch) {
      this._watch = this.model.watch();
    }
  }

  protected onBeforeHide(msg: Message): void {
    this._watch?.dispose();
    this._watch = null;
    super.onBeforeHide(msg);
  }

  protected onBeforeDetach(msg: Message): void {
    this._watch?.dispose();
    this._watch = null;
    super.onBeforeDetach(msg);
  }

  dispose(): void {
    this._watch?.dispose();
    this._watch = null;
    super.dispose();
  }

  private _watch: IDisposable | null = null;
}

export class SidebarWidget extends WatchingWidget {
  constructor(
    model: EnvManagerModel,
    private _actions: IViewActions,
    private _measureSizes: () => boolean
  ) {
    super(model);
    this.addClass('jp-EnvMgr-sidebarWidget');
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (!this._measured && this._measureSizes()) {
      this._measured = true;
      void this.model.refreshSizes().catch(() => undefined);
    }
  }

  render(): JSX.Element {
    return <Sidebar model={this.model} actions={this._actions} />;
  }

  private _measured = false;
}

export class EnvWidget extends WatchingWidget {
  constructor(
    readonly env: EnvModel,
    private _actions: IViewActions,
    private _notebooksChanged: NotebooksChanged
  ) {
    super(env.manager);
    this.addClass('jp-EnvMgr-panelWidget');
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.env.reload();
  }

  render(): JSX.Element {
    return (
      <EnvPanel
        env={this.env}
        actions={this._actions}
        notebooksChanged={this._notebooksChanged}
      />
    );
  }

  dispose(): void {
    this.env.dispose();
    super.dispose();
  }
}

export class CreateWidget extends ReactWidget {
  constructor(
    private _model: EnvManagerModel,
    private _actions: IViewActions
  ) {
    super();
    this.addClass('jp-EnvMgr-panelWidget');
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (!this._model.settings) {
      void this._model.loadSettings();
    }
  }

  render(): JSX.Element {
    return <CreatePanel model={this._model} actions={this._actions} />;
  }
}

export class DiskWidget extends ReactWidget {
  constructor(
    private _model: EnvManagerModel,
    private _actions: IViewActions
  ) {
    super();
    this.addClass('jp-EnvMgr-panelWidget');
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this._model.refreshUsage();
  }

  render(): JSX.Element {
    return <DiskPanel model={this._model} actions={this._actions} />;
  }
}
