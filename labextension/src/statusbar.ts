/**
 * The status bar item naming the current notebook kernel's env; a click offers to install
 * into it. Shown only while a notebook is current.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Signal } from '@lumino/signaling';

import { CommandIDs } from './commandids';
import { NotebookGlue, createStatusItem } from './kernels';
import { EnvManagerModel } from './model';

export function addStatusBarItem(
  app: JupyterFrontEnd,
  statusBar: IStatusBar,
  notebooks: INotebookTracker,
  model: EnvManagerModel,
  glue: NotebookGlue
): void {
  // The tracker keeps its last notebook while another tab is current: the item shows only when
  // the main area's current tab is that notebook, and is re-checked when either changes.
  const activeChanged = new Signal<object, void>(app);
  const changed = () => activeChanged.emit();
  glue.notebooksChanged.connect(changed);
  app.shell.currentChanged?.connect(changed);
  statusBar.registerStatusItem('jupyter-envmgr:kernel-env', {
    item: createStatusItem(
      glue,
      model,
      () => void app.commands.execute(CommandIDs.installIntoKernelEnv)
    ),
    align: 'left',
    rank: 5,
    isActive: () =>
      !!notebooks.currentWidget &&
      app.shell.currentWidget === notebooks.currentWidget,
    activeStateChanged: activeChanged
  });
}
