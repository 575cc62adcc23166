/**
 * The extension's commands (ids in commandids.ts), and where they are offered: the command
 * palette and the launcher.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  InputDialog,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import type { NotebookPanel } from '@jupyterlab/notebook';

import { readOnlyReason } from './components/actions';
import { CommandIDs } from './commandids';
import { guardNotebook } from './earlyruns';
import { trans } from './i18n';
import { envsIcon } from './icons';
import { InstallBody, NotebookGlue } from './kernels';
import { EnvManagerModel } from './model';
import { errorMessage } from './request';
import { IEnvViews } from './views';

/** The palette's category of our commands. */
const category = (): string => trans.__('Environments');

export function addCommands(
  app: JupyterFrontEnd,
  model: EnvManagerModel,
  glue: NotebookGlue,
  views: IEnvViews,
  currentFolder: () => string = () => ''
): void {
  const { commands, shell, serviceManager } = app;

  // A name picked from the current listing (refreshed first), or null when there is none.
  const pickEnv = async (
    title: string,
    filter: (name: string) => boolean,
    accept: string
  ): Promise<string | null> => {
    await model.refresh().catch(() => undefined);
    // Listed by name; an env outside the envs dirs by its folder's name and location.
    const choices = new Map<string, string>();
    for (const env of model.environments.filter(e => filter(e.key))) {
      const location = model.envLocation(env.key);
      const label = model.envLabel(env.key);
      choices.set(
        location ? trans.__('%1 (in %2)', label, location) : label,
        env.key
      );
    }
    if (choices.size === 0) {
      await showErrorMessage(
        title,
        trans.__('There is no such environment yet.')
      );
      return null;
    }
    const items = [...choices.keys()];
    const result = await InputDialog.getItem({
      title,
      items,
      okLabel: accept
    });
    return result.button.accept
      ? (choices.get(result.value ?? '') ?? null)
      : null;
  };

  commands.addCommand(CommandIDs.open, {
    label: trans.__('Show Environments'),
    caption: trans.__('The conda environments sidebar'),
    icon: envsIcon,
    execute: () => shell.activateById(views.sidebar.id)
  });

  commands.addCommand(CommandIDs.create, {
    label: args =>
      args.isLauncher
        ? trans.__('New Environment')
        : trans.__('New Environment…'),
    caption: trans.__('Create a conda environment from packages or a file'),
    icon: envsIcon,
    execute: () => views.showCreate()
  });

  commands.addCommand(CommandIDs.openEnv, {
    label: args =>
      args.name
        ? trans.__('Open Environment %1', args.name)
        : trans.__('Open Environment…'),
    caption: trans.__(
      "An environment's packages, kernel, exports and revisions"
    ),
    execute: async args => {
      const name =
        (args.name as string) ||
        (await pickEnv(
          trans.__('Open environment'),
          () => true,
          trans.__('Open')
        ));
      if (name) {
        views.openEnv(name);
      }
    }
  });

  commands.addCommand(CommandIDs.disk, {
    label: trans.__('Disk Use and Cleaning'),
    caption: trans.__(
      'Disk use per environment and of the package cache; clean the cache'
    ),
    execute: () => views.showDisk()
  });

  commands.addCommand(CommandIDs.refresh, {
    label: trans.__('Refresh Environments'),
    execute: async () => {
      await model.refresh();
      await model.refreshSizes();
    }
  });

  commands.addCommand(CommandIDs.newNotebook, {
    label: args =>
      args.env
        ? trans.__('New Notebook with %1', args.env)
        : trans.__('New Notebook with Environment…'),
    caption: trans.__("A notebook on an environment's kernel"),
    execute: async args => {
      if (!model.kernels.length) {
        await model.refresh().catch(() => undefined);
      }
      const env =
        (args.env as string) ||
        (await pickEnv(
          trans.__('New notebook with environment'),
          n => model.kernelsOf(n).length > 0,
          trans.__('New notebook')
        ));
      if (!env) {
        return;
      }
      const kernel = model.kernelsOf(env)[0];
      if (!kernel) {
        await showErrorMessage(
          trans.__('No kernel'),
          trans.__('%1 has no kernel: install ipykernel into it first.', env)
        );
        return;
      }
      // The kernel starts now, while the notebook opens: a session for the new file, which
      // the notebook's session context finds by its path and attaches to (it starts no
      // other). JupyterLab must know the kernel before the notebook asks for it.
      const [file] = await Promise.all([
        serviceManager.contents.newUntitled({
          type: 'notebook',
          path: (args.cwd as string | undefined) ?? currentFolder()
        }),
        serviceManager.kernelspecs.refreshSpecs()
      ]);
      const session = await serviceManager.sessions.startNew({
        path: file.path,
        name: file.name,
        type: 'notebook',
        kernel: { name: kernel.name }
      });
      session.dispose(); // this handle only: the session and its kernel live on
      const panel = await commands.execute('docmanager:open', {
        path: file.path,
        factory: 'Notebook',
        kernel: { name: kernel.name }
      });
      guardNotebook(panel as NotebookPanel);
      return panel;
    }
  });

  commands.addCommand(CommandIDs.switchKernel, {
    label: trans.__('Switch Notebook to Environment Kernel'),
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
    label: trans.__("Install into This Kernel's Environment…"),
    caption: trans.__(
      "Install packages into the environment of the current notebook's kernel"
    ),
    isEnabled: () => glue.currentEnv() !== null,
    execute: () => installIntoKernelEnv(model, glue)
  });
}

/** Ask for packages and install them into the current notebook kernel's env; notify. */
async function installIntoKernelEnv(
  model: EnvManagerModel,
  glue: NotebookGlue
): Promise<void> {
  const env = glue.currentEnv();
  if (!env) {
    await showErrorMessage(
      trans.__('Not an environment kernel'),
      trans.__("This notebook's kernel does not run in a managed environment.")
    );
    return;
  }
  if (model.environment(env)?.read_only) {
    await showErrorMessage(
      trans.__('%1 is read-only', model.envLabel(env)),
      readOnlyReason()
    );
    return;
  }
  const body = new InstallBody(model, env);
  const result = await showDialog({
    title: trans.__('Install into %1', env),
    body,
    focusNodeSelector: 'input',
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: trans.__('Install') })
    ]
  });
  const specs = body.getValue();
  if (!result.button.accept || specs.length === 0) {
    return;
  }
  try {
    // Its progress and how it ends show in a notification (notifications.ts).
    await glue.runWithRestartOffer(env, () => model.install(env, specs));
  } catch (error) {
    await showErrorMessage(
      trans.__('Cannot install into %1', env),
      errorMessage(error)
    );
  }
}

/** The commands a user looks for by name, under "Environments". */
export function addToPalette(palette: ICommandPalette): void {
  for (const command of [
    CommandIDs.open,
    CommandIDs.create,
    CommandIDs.openEnv,
    CommandIDs.newNotebook,
    CommandIDs.installIntoKernelEnv,
    CommandIDs.disk,
    CommandIDs.refresh
  ]) {
    palette.addItem({ command, category: category() });
  }
}

/** "New Environment" on the launcher, under "Other". */
export function addToLauncher(launcher: ILauncher): void {
  launcher.add({
    command: CommandIDs.create,
    args: { isLauncher: true },
    category: 'Other',
    rank: 10
  });
}
