/**
 * The extension's places in the shell: the sidebar, one main-area tab per open environment
 * (restored with the layout), and the create and disk tabs (one of each).
 */
import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { SplitPanel, Widget } from '@lumino/widgets';

import { IViewActions } from './components/actions';
import { CommandIDs } from './commandids';
import { EnvModel } from './envmodel';
import { trans } from './i18n';
import { envsIcon } from './icons';
import { NotebookGlue } from './kernels';
import { EnvManagerModel } from './model';
import { CreateWidget, DiskWidget, EnvWidget, SidebarWidget } from './widgets';

/** The views, as the commands open them. */
export interface IEnvViews {
  readonly sidebar: SidebarWidget;
  /** Open (or show) the view of the env `name`; its state. */
  openEnv(name: string): EnvModel;
  showCreate(): void;
  showDisk(): void;
}

export interface IViewsOptions {
  model: EnvManagerModel;
  glue: NotebookGlue;
  actions: IViewActions;
  /** Whether views measure env sizes (a user setting, read each time). */
  measureSizes: () => boolean;
  restorer: ILayoutRestorer | null;
}

/** Add the sidebar, and make the main-area views that the commands open. */
export function addViews(
  app: JupyterFrontEnd,
  options: IViewsOptions
): IEnvViews {
  const { shell } = app;
  const { model, glue, actions, measureSizes, restorer } = options;

  const sidebar = new SidebarWidget(model, actions, measureSizes);
  sidebar.id = 'jp-envmgr-sidebar';
  sidebar.title.icon = envsIcon;
  sidebar.title.caption = trans.__('Environments');
  shell.add(sidebar, 'left', { rank: 350 });
  restorer?.add(sidebar, 'jp-envmgr-sidebar');

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
    if (!widget.isAttached && !('mode' in shell)) {
      // Jupyter Notebook 7's shell keeps one document in its main area and drops others:
      // our views open in its panel below the notebook instead, given room when it is
      // folded.
      shell.add(widget, 'down');
      for (let up = widget.parent; up; up = up.parent) {
        if (up instanceof SplitPanel) {
          const sizes = up.relativeSizes();
          if (sizes.length === 2 && sizes[1] < 0.3) {
            up.setRelativeSizes([0.5, 0.5]);
          }
          break;
        }
      }
    }
    shell.activateById(id);
    return widget;
  };

  const envTracker = new WidgetTracker<MainAreaWidget<EnvWidget>>({
    namespace: 'jupyter-envmgr-env'
  });

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
    const label = model.envLabel(name);
    const widget = addToMain(content, id, label);
    widget.title.caption = trans.__('Environment %1', label);
    void envTracker.add(widget);
    return env;
  };

  // A deleted env's view closes.
  model.taskFinished.connect((_, tracker) => {
    if (tracker.task.kind === 'delete' && tracker.task.state === 'done') {
      envTracker.find(w => w.content.env.name === tracker.task.env)?.dispose();
    }
  });

  // The env views of the last session come back by running the open command again.
  if (restorer) {
    void restorer.restore(envTracker, {
      command: CommandIDs.openEnv,
      args: widget => ({ name: widget.content.env.name }),
      name: widget => widget.content.env.name
    });
  }

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

  return {
    sidebar,
    openEnv,
    showCreate: () =>
      showSingleton(
        'jp-envmgr-create',
        trans.__('New environment'),
        () => new CreateWidget(model, actions)
      ),
    showDisk: () =>
      showSingleton(
        'jp-envmgr-disk',
        trans.__('Disk'),
        () => new DiskWidget(model, actions)
      )
  };
}
