/**
 * Tasks started on this page (create, install, remove, update, roll back, delete, clean) are
 * also reported in JupyterLab's notifications: one notification per task, its progress while it
 * runs, then success, or an error with the reason. A notebook's sync reports itself
 * (notebookenv.tsx), so it is left out here.
 */
import { Notification } from '@jupyterlab/apputils';

import { trans } from './i18n';
import { EnvManagerModel, TaskTracker } from './model';

/** Kinds whose notifications another module writes. */
const REPORTED_ELSEWHERE = new Set(['sync']);

export function watchTaskNotifications(model: EnvManagerModel): void {
  model.taskStarted.connect((_, tracker) => {
    if (!REPORTED_ELSEWHERE.has(tracker.task.kind)) {
      void notify(tracker);
    }
  });
}

/**
 * A task that ended within QUICK ms of its start has its final state shown again RESHOW_AFTER
 * ms later: JupyterLab creates a toast asynchronously, and an update that arrives before the
 * toast exists is dropped (the toast would stay "Queued").
 */
const QUICK = 5000;
const RESHOW_AFTER = 2000;

/** One notification following `tracker` until the task ends. */
async function notify(tracker: TaskTracker): Promise<void> {
  const title = tracker.title;
  const started = Date.now();
  const running = () =>
    trans.__('%1: %2', title, tracker.progress.status || trans.__('Queued'));
  const id = Notification.emit(running(), 'in-progress', {
    autoClose: false,
    progress: tracker.progress.fraction ?? undefined
  });
  // Updated when the words or the whole percent change, not on every byte.
  let shown = `${running()} ${Math.round((tracker.progress.fraction ?? 0) * 100)}`;
  const onChange = () => {
    if (tracker.finished) {
      return;
    }
    const now = `${running()} ${Math.round((tracker.progress.fraction ?? 0) * 100)}`;
    if (now !== shown) {
      shown = now;
      Notification.update({
        id,
        message: running(),
        type: 'in-progress',
        progress: tracker.progress.fraction ?? undefined
      });
    }
  };
  tracker.changed.connect(onChange);
  const task = await tracker.done;
  tracker.changed.disconnect(onChange);
  const final: Parameters<typeof Notification.update>[0] =
    task.state === 'done'
      ? {
          id,
          message: trans.__('%1: done.', title),
          type: 'success',
          progress: 1,
          autoClose: 5000
        }
      : task.state === 'cancelled'
        ? {
            id,
            message: trans.__(
              '%1: cancelled; the environment is as it was.',
              title
            ),
            type: 'warning',
            autoClose: 5000
          }
        : {
            id,
            message: trans.__(
              '%1 failed: %2',
              title,
              task.error?.message ?? trans.__('no reason given')
            ),
            type: 'error',
            autoClose: false
          };
  Notification.update(final);
  if (Date.now() - started < QUICK) {
    window.setTimeout(() => Notification.update(final), RESHOW_AFTER);
  }
}
