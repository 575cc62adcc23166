/**
 * jupyter-envmgr: conda environments in JupyterLab. One plugin wires the model (model.ts),
 * the views (components/), the notebook side (kernels.tsx) and the commands.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  InputDialog,
  MainAreaWidget,
  Notification,
  WidgetTracker,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Widget } from '@lumino/widgets';

import { IViewActions, READ_ONLY_REASON } from './components/actions';
import { EnvModel } from './envmodel';
import { envsIcon } from './icons';
import { InstallBody, NotebookGlue, createStatusItem } from './kernels';
import { EnvManagerModel, TaskTracker } from './model';
import { EmbedEnvExtension, watchCarriedEnvs } from './notebookenv';
import { errorMessage } from './request';
import { IEnvManager } from './tokens';
import { CreateWidget, DiskWidget, EnvWidget, SidebarWidget } from './widgets';

export { IEnvManager } from './tokens';

const PLUGIN_ID = 'jupyter-envmgr:plugin';

export namespace CommandIDs {
  export const open = 'envmgr:open';
  export const create = 'envmgr:create';
  export const openEnv = 'envmgr:open-env';
  export const disk = 'envmgr:disk';
  export const refresh = 'envmgr:refresh';
  export const newNotebook = 'envmgr:new-notebook';
  export const installIntoKernelEnv = 'envmgr:install-into-kernel-env';
  export const switchKernel = 'envmgr:switch-kernel';
}

const CATEGORY = 'Environments';

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
    ILauncher
  ],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    notebooks: INotebookTracker | null,
    statusBar: IStatusBar | null,
    launcher: ILauncher | null
  ): IEnvManager => {
    const { commands, shell, serviceManager } = app;
    const model = new EnvManagerModel({
      // A new or deleted env kernel: the launcher and kernel pickers follow.
      onKernelsChanged: () => void serviceManager.kernelspecs.refreshSpecs()
    });
    const glue = new NotebookGlue(model, notebooks);
    let measureSizes = true;

    const envTracker = new WidgetTracker<MainAreaWidget<EnvWidget>>({
      namespace: 'jupyter-envmgr-env'
    });

    const actions: IViewActions = {
      openEnv: name => void commands.execute(CommandIDs.openEnv, { name }),
      create: () => void commands.execute(CommandIDs.create),
      openDisk: () => void commands.execute(CommandIDs.disk),
      newNotebook: env =>
        void commands.execute(CommandIDs.newNotebook, { env }),
      cancel: (tracker: TaskTracker) =>
        void model
          .cancel(tracker)
          .catch(error =>
            showErrorMessage('Cannot cancel the task', errorMessage(error))
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
      prompt: async (title, label, value) => {
        const result = await InputDialog.getText({
          title,
          label,
          text: value ?? ''
        });
        return result.button.accept
          ? (result.value ?? '').trim() || null
          : null;
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
        window.setTimeout(() => URL.revokeObjectURL(url), 10000);
      }
    };

    // -- the sidebar ------------------------------------------------------------------------
    const sidebar = new SidebarWidget(model, actions, () => measureSizes);
    sidebar.id = 'jp-envmgr-sidebar';
    sidebar.title.icon = envsIcon;
    sidebar.title.caption = 'Environments';
    shell.add(sidebar, 'left', { rank: 350 });
    restorer?.add(sidebar, 'jp-envmgr-sidebar');

    // -- main-area views --------------------------------------------------------------------
    // A main-area tab for `content`, with our icon, closable, and shown at once.
    const addToMain = <T extends Widget>(
      content: T,
      id: string,
      label: string
    ): MainAreaWidget<T> => {
      const widget = new MainAreaWidget({ content });
      widget.id = id;
      widget.title.label = label;
      widget.title.icon = envsIcon;
      widget.title.closable = true;
      shell.add(widget, 'main');
      shell.activateById(id);
      return widget;
    };

    const openEnv = (name: string): EnvModel => {
      const id = `jp-envmgr-env-${name}`;
      const open = envTracker.find(w => w.id === id);
      if (open) {
        shell.activateById(id);
        return open.content.env;
      }
      const env = new EnvModel(name, model, (envName, start) =>
        glue.runWithRestartOffer(envName, start)
      );
      const content = new EnvWidget(env, actions, glue.notebooksChanged);
      const widget = addToMain(content, id, name);
      widget.title.caption = `Environment ${name}`;
      void envTracker.add(widget);
      return env;
    };

    // A deleted env's view closes.
    model.taskFinished.connect((_, tracker) => {
      if (tracker.task.kind === 'delete' && tracker.task.state === 'done') {
        envTracker
          .find(w => w.content.env.name === tracker.task.env)
          ?.dispose();
      }
    });

    // The create and disk tabs: one of each, brought forward when already open.
    const singletons = new Map<string, MainAreaWidget>();
    const showSingleton = (
      id: string,
      label: string,
      make: () => Widget
    ): void => {
      const open = singletons.get(id);
      if (open && !open.isDisposed) {
        shell.activateById(id);
        return;
      }
      singletons.set(id, addToMain(make(), id, label));
    };

    commands.addCommand(CommandIDs.open, {
      label: 'Show Environments',
      caption: 'The conda environments sidebar',
      icon: envsIcon,
      execute: () => shell.activateById(sidebar.id)
    });

    commands.addCommand(CommandIDs.create, {
      label: args => (args.isLauncher ? 'New Environment' : 'New Environment…'),
      caption: 'Create a conda environment from packages or a file',
      icon: envsIcon,
      execute: () =>
        showSingleton(
          'jp-envmgr-create',
          'New environment',
          () => new CreateWidget(model, actions)
        )
    });

    const pickEnv = async (
      title: string,
      filter: (name: string) => boolean
    ) => {
      await model.refresh().catch(() => undefined);
      const names = model.environments
        .map(e => e.name)
        .filter((n): n is string => !!n && filter(n));
      if (names.length === 0) {
        await showErrorMessage(title, 'There is no such environment yet.');
        return null;
      }
      const result = await InputDialog.getItem({ title, items: names });
      return result.button.accept ? result.value : null;
    };

    commands.addCommand(CommandIDs.openEnv, {
      label: args =>
        args.name ? `Open Environment ${args.name}` : 'Open Environment…',
      caption: "An environment's packages, kernel, exports and revisions",
      execute: async args => {
        const name =
          (args.name as string) ||
          (await pickEnv('Open environment', () => true));
        if (name) {
          openEnv(name);
        }
      }
    });

    commands.addCommand(CommandIDs.disk, {
      label: 'Disk Use and Cleaning',
      caption:
        'Disk use per environment and of the package cache; clean the cache',
      execute: () =>
        showSingleton(
          'jp-envmgr-disk',
          'Disk',
          () => new DiskWidget(model, actions)
        )
    });

    commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh Environments',
      execute: async () => {
        await model.refresh();
        await model.refreshSizes();
      }
    });

    commands.addCommand(CommandIDs.newNotebook, {
      label: args =>
        args.env
          ? `New Notebook with ${args.env}`
          : 'New Notebook with Environment…',
      caption: "A notebook on an environment's kernel",
      execute: async args => {
        if (!model.kernels.length) {
          await model.refresh().catch(() => undefined);
        }
        const env =
          (args.env as string) ||
          (await pickEnv(
            'New notebook with environment',
            n => model.kernelsOf(n).length > 0
          ));
        if (!env) {
          return;
        }
        const kernel = model.kernelsOf(env)[0];
        if (!kernel) {
          await showErrorMessage(
            'No kernel',
            `${env} has no kernel: install ipykernel into it first.`
          );
          return;
        }
        await serviceManager.kernelspecs.refreshSpecs();
        return commands.execute('notebook:create-new', {
          kernelName: kernel.name
        });
      }
    });

    commands.addCommand(CommandIDs.switchKernel, {
      label: 'Switch Notebook to Environment Kernel',
      execute: async args => {
        const panel = await glue.switchKernel(
          args.id as string,
          args.kernelName as string
        );
        if (panel) {
          shell.activateById(panel.id);
        }
      }
    });

    commands.addCommand(CommandIDs.installIntoKernelEnv, {
      label: "Install into This Kernel's Environment…",
      caption:
        "Install packages into the environment of the current notebook's kernel",
      isEnabled: () => glue.currentEnv() !== null,
      execute: async () => {
        const env = glue.currentEnv();
        if (!env) {
          await showErrorMessage(
            'Not an environment kernel',
            "This notebook's kernel does not run in a managed environment."
          );
          return;
        }
        if (model.environment(env)?.read_only) {
          await showErrorMessage(`${env} is read-only`, READ_ONLY_REASON);
          return;
        }
        const body = new InstallBody(model, env);
        const result = await showDialog({
          title: `Install into ${env}`,
          body,
          focusNodeSelector: 'input',
          buttons: [
            Dialog.cancelButton(),
            Dialog.okButton({ label: 'Install' })
          ]
        });
        const specs = body.getValue();
        if (!result.button.accept || specs.length === 0) {
          return;
        }
        let tracker: TaskTracker;
        try {
          tracker = await glue.runWithRestartOffer(env, () =>
            model.install(env, specs)
          );
        } catch (error) {
          await showErrorMessage(
            `Cannot install into ${env}`,
            errorMessage(error)
          );
          return;
        }
        const id = Notification.emit(
          `Installing ${specs.join(', ')} into ${env}…`,
          'in-progress',
          {
            autoClose: false
          }
        );
        const task = await tracker.done;
        Notification.update({
          id,
          message:
            task.state === 'done'
              ? `Installed ${specs.join(', ')} into ${env}.`
              : `Install into ${env} ${task.state}: ${task.error?.message ?? ''}`,
          type: task.state === 'done' ? 'success' : 'error',
          autoClose: task.state === 'done' ? 5000 : false
        });
      }
    });

    if (palette) {
      for (const command of [
        CommandIDs.open,
        CommandIDs.create,
        CommandIDs.openEnv,
        CommandIDs.newNotebook,
        CommandIDs.installIntoKernelEnv,
        CommandIDs.disk,
        CommandIDs.refresh
      ]) {
        palette.addItem({ command, category: CATEGORY });
      }
    }

    launcher?.add({
      command: CommandIDs.create,
      args: { isLauncher: true },
      category: 'Other',
      rank: 10
    });

    if (statusBar && notebooks) {
      statusBar.registerStatusItem('jupyter-envmgr:kernel-env', {
        item: createStatusItem(
          glue,
          model,
          () => void commands.execute(CommandIDs.installIntoKernelEnv)
        ),
        align: 'left',
        rank: 5,
        isActive: () => !!notebooks.currentWidget,
        activeStateChanged: glue.notebooksChanged
      });
    }

    // A notebook that carries its env: embed it (toolbar), re-create it when missing here.
    app.docRegistry.addWidgetExtension(
      'Notebook',
      new EmbedEnvExtension(model, glue)
    );
    if (notebooks) {
      watchCarriedEnvs(app, model, notebooks);
    }

    if (restorer) {
      void restorer.restore(envTracker, {
        command: CommandIDs.openEnv,
        args: widget => ({ name: widget.content.env.name }),
        name: widget => widget.content.env.name
      });
    }

    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(
        settings => {
          const apply = () => {
            model.pollInterval = settings.get('pollInterval')
              .composite as number;
            measureSizes = settings.get('measureSizes').composite as boolean;
          };
          apply();
          settings.changed.connect(apply);
        },
        error => console.warn('jupyter-envmgr: settings not loaded', error)
      );
    }

    // The first listing right away: kernels of envs made since the page loaded are known.
    void model.refresh().catch(() => undefined);

    return { model, openEnv };
  }
};

export default plugin;
