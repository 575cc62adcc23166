/**
 * What the views ask of the application (components/actions.ts, IViewActions), answered with
 * commands, JupyterLab's dialogs and its sessions: the views themselves know none of these.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  InputDialog,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';

import { IViewActions } from './components/actions';
import { CommandIDs } from './commandids';
import { trans } from './i18n';
import { NotebookGlue } from './kernels';
import { EnvManagerModel, TaskTracker } from './model';
import { errorMessage } from './request';

export function createViewActions(
  app: JupyterFrontEnd,
  model: EnvManagerModel,
  glue: NotebookGlue
): IViewActions {
  const { commands, serviceManager } = app;
  return {
    openEnv: name => void commands.execute(CommandIDs.openEnv, { name }),
    create: () => void commands.execute(CommandIDs.create),
    openDisk: () => void commands.execute(CommandIDs.disk),
    newNotebook: env => void commands.execute(CommandIDs.newNotebook, { env }),
    cancel: (tracker: TaskTracker) =>
      void model
        .cancel(tracker)
        .catch(error =>
          showErrorMessage(
            trans.__('Cannot cancel the task'),
            errorMessage(error)
          )
        ),
    openNotebooks: () => glue.openNotebooks(),
    sessionsUsing: async kernelNames => {
      await serviceManager.sessions.refreshRunning();
      return Array.from(serviceManager.sessions.running())
        .filter(s => s.kernel && kernelNames.includes(s.kernel.name))
        .map(s => ({ id: s.id, path: s.path, kernelName: s.kernel!.name }));
    },
    shutdownSessions: async ids => {
      await Promise.all(ids.map(id => serviceManager.sessions.shutdown(id)));
    },
    switchKernel: (id, kernelName) =>
      void commands.execute(CommandIDs.switchKernel, { id, kernelName }),
    confirm: async (title, body, accept) => {
      const result = await showDialog({
        title,
        body,
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: accept })]
      });
      return result.button.accept;
    },
    prompt: async (title, label, value, accept) => {
      const result = await InputDialog.getText({
        title,
        label,
        text: value ?? '',
        okLabel: accept
      });
      return result.button.accept ? (result.value ?? '').trim() || null : null;
    },
    download: file => {
      const blob = new Blob([file.text], { type: file.type });
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = file.filename;
      document.body.appendChild(link);
      link.click();
      link.remove();
      // Revoked later, not at once: the browser may not have read the blob yet.
      window.setTimeout(() => URL.revokeObjectURL(url), 10000);
    }
  };
}
