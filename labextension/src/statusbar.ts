/**
 * The status bar item naming the current notebook kernel's env; a click offers to install
 * into it. Shown only while a notebook is current.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';

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
  statusBar.registerStatusItem('jupyter-envmgr:kernel-env', {
    item: createStatusItem(
      glue,
      model,
      () => void app.commands.execute(CommandIDs.installIntoKernelEnv)
    ),
    align: 'left',
    rank: 5,
    isActive: () => !!notebooks.currentWidget,
    activeStateChanged: glue.notebooksChanged
  });
}
