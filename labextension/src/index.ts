/**
 * jupyter-envmgr: conda environments in JupyterLab. One plugin builds the model (model.ts) and
 * wires it to the shell: views (views.ts), commands (commands.ts), the status bar
 * (statusbar.ts), the notebook side (kernels.tsx, notebookenv.tsx) and the user's settings.
 */
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator } from '@jupyterlab/translation';

import { followKernelAliases } from './aliases';
import { addCommands, addToLauncher, addToPalette } from './commands';
import { NotebookGlue } from './kernels';
import { EnvManagerModel } from './model';
import { DriftBadgeExtension } from './drift';
import { EmbedEnvExtension, watchCarriedEnvs } from './notebookenv';
import { setTranslator } from './i18n';
import { watchTaskNotifications } from './notifications';
import { addStatusBarItem } from './statusbar';
import { IEnvManager } from './tokens';
import { followUserSettings } from './usersettings';
import { createViewActions } from './viewactions';
import { addViews } from './views';

export { CommandIDs } from './commandids';
export { IEnvManager } from './tokens';

const PLUGIN_ID = 'jupyter-envmgr:plugin';

const plugin: JupyterFrontEndPlugin<IEnvManager> = {
  id: PLUGIN_ID,
  description:
    'Conda environments: list, create, change, export, clean, and their kernels.',
  autoStart: true,
  provides: IEnvManager,
  optional: [
    ICommandPalette,
    ILayoutRestorer,
    ISettingRegistry,
    INotebookTracker,
    IStatusBar,
    ILauncher,
    ITranslator,
    IDefaultFileBrowser
  ],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    notebooks: INotebookTracker | null,
    statusBar: IStatusBar | null,
    launcher: ILauncher | null,
    translator: ITranslator | null,
    fileBrowser: IDefaultFileBrowser | null
  ): IEnvManager => {
    // Every word shown from here on is in the user's language (language packs apply).
    setTranslator(translator);
    const model = new EnvManagerModel({
      // A new or deleted env kernel: the launcher and kernel pickers follow.
      onKernelsChanged: () => void app.serviceManager.kernelspecs.refreshSpecs()
    });
    const userSettings = followUserSettings(settingRegistry, PLUGIN_ID, model);
    const glue = new NotebookGlue(
      model,
      notebooks,
      () => userSettings.holdEarlyRuns
    );

    const views = addViews(app, {
      model,
      glue,
      actions: createViewActions(app, model, glue),
      measureSizes: () => userSettings.measureSizes,
      restorer
    });
    // A new notebook goes where the file browser is, as JupyterLab's own New Notebook does.
    addCommands(app, model, glue, views, () => fileBrowser?.model.path ?? '');
    if (palette) {
      addToPalette(palette);
    }
    if (launcher) {
      addToLauncher(launcher);
    }
    // Tasks started on this page are also reported in JupyterLab's notifications.
    watchTaskNotifications(model);
    if (statusBar && notebooks) {
      addStatusBarItem(app, statusBar, notebooks, model, glue);
    }

    // A notebook that carries its env: embed it (toolbar), re-create it when missing here.
    app.docRegistry.addWidgetExtension(
      'Notebook',
      new EmbedEnvExtension(model, glue)
    );
    // ... and say when the kernel's env has drifted from the notebook's lock.
    app.docRegistry.addWidgetExtension(
      'Notebook',
      new DriftBadgeExtension(app, model, glue)
    );
    if (notebooks) {
      watchCarriedEnvs(app, model, notebooks);
      followKernelAliases(model, notebooks, app.serviceManager.kernelspecs);
    }

    // The first listing right away: kernels of envs made since the page loaded are known.
    void model.refresh().catch(() => undefined);

    return { model, openEnv: views.openEnv };
  }
};

export default plugin;
