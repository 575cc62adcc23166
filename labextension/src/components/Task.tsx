/**
 * One task: title, state, status line, a progress bar, download bytes per package, link
 * counts, the server's message when it failed, and a Cancel button while it runs.
 */
import * as React from 'react';

import { trans } from '../i18n';
import { TaskTracker } from '../model';
import { formatBytes } from '../progress';
import { useSignals } from './hooks';

/** A task's state in words (the badge). */
function stateLabel(state: string): string {
  switch (state) {
    case 'queued':
      return trans.__('queued');
    case 'running':
      return trans.__('running');
    case 'waiting':
      return trans.__('waiting');
    case 'done':
      return trans.__('done');
    case 'failed':
      return trans.__('failed');
    case 'cancelled':
      return trans.__('cancelled');
    default:
      return state;
  }
}

export interface ITaskViewProps {
  tracker: TaskTracker;
  onCancel: (tracker: TaskTracker) => void;
  /** Show per-package downloads and counts (the env and create views); the sidebar is terse. */
  detailed?: boolean;
}

export function TaskView(props: ITaskViewProps): JSX.Element {
  const { tracker, detailed } = props;
  useSignals(tracker.changed);
  const { task, progress } = tracker;
  const running = !tracker.finished;
  const downloads = Object.entries(progress.downloads);
  const percent =
    progress.fraction === null ? null : Math.round(progress.fraction * 100);
  return (
    <div
      className={`jp-EnvMgr-task jp-EnvMgr-task-${task.state}`}
      data-task-id={task.id}
      data-task-state={task.state}
      aria-label={trans.__('Task: %1', tracker.title)}
    >
      <div className="jp-EnvMgr-taskHeader">
        <span className="jp-EnvMgr-taskTitle">{tracker.title}</span>
        <span className={`jp-EnvMgr-badge jp-EnvMgr-state-${task.state}`}>
          {stateLabel(task.state)}
        </span>
        {running && (
          <button
            className="jp-EnvMgr-button jp-mod-small"
            onClick={() => props.onCancel(tracker)}
            title={trans.__(
              'Stop this task; the environment is restored to what it was'
            )}
          >
            {trans.__('Cancel')}
          </button>
        )}
      </div>
      {running && (
        <div
          className="jp-EnvMgr-progress"
          role="progressbar"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={percent ?? undefined}
        >
          <div
            className={
              percent === null
                ? 'jp-EnvMgr-progressBar jp-mod-indeterminate'
                : 'jp-EnvMgr-progressBar'
            }
            style={percent === null ? {} : { width: `${percent}%` }}
          />
        </div>
      )}
      {task.state === 'failed' ? (
        <pre className="jp-EnvMgr-error" role="alert">
          {task.error?.message ?? trans.__('Failed')}
        </pre>
      ) : (
        <div className="jp-EnvMgr-taskStatus">
          {running ? progress.status : tracker.describeEnd()}
        </div>
      )}
      {detailed && downloads.length > 0 && (
        <ul className="jp-EnvMgr-downloads" aria-label={trans.__('Downloads')}>
          {downloads.map(([name, d]) => (
            <li key={name}>
              <span className="jp-EnvMgr-pkgName">{name}</span>{' '}
              {d.done
                ? formatBytes(d.total ?? d.bytes)
                : trans.__(
                    '%1 of %2',
                    formatBytes(d.bytes),
                    formatBytes(d.total)
                  )}
              {d.done ? ' ✓' : ''}
            </li>
          ))}
        </ul>
      )}
      {detailed && (progress.linked || progress.unlinked) && (
        <div className="jp-EnvMgr-counts">
          {progress.linked &&
            trans.__(
              'Linked %1/%2',
              progress.linked.done,
              progress.linked.total
            )}
          {progress.linked && progress.unlinked && ' · '}
          {progress.unlinked &&
            trans.__(
              'Unlinked %1/%2',
              progress.unlinked.done,
              progress.unlinked.total
            )}
        </div>
      )}
      {detailed && progress.lines.length > 0 && (
        <pre className="jp-EnvMgr-lines">
          {progress.lines.slice(-20).join('\n')}
        </pre>
      )}
    </div>
  );
}

export interface ITaskListProps {
  trackers: ReadonlyArray<TaskTracker>;
  onCancel: (tracker: TaskTracker) => void;
  /** Forget a finished task: failed ones stay shown, open, until dismissed. */
  onDismiss: (tracker: TaskTracker) => void;
  detailed?: boolean;
  empty?: string;
}

/**
 * Running tasks in full; failed ones in full with "Dismiss" (they say so until read); the
 * others that finished fold into one closed "N finished" line, so that they do not pile up
 * above what the user came for.
 */
export function TaskList(props: ITaskListProps): JSX.Element | null {
  const { trackers, onCancel, onDismiss, detailed } = props;
  if (trackers.length === 0) {
    return props.empty ? (
      <div className="jp-EnvMgr-empty">{props.empty}</div>
    ) : null;
  }
  const open = trackers.filter(t => !t.finished || t.task.state === 'failed');
  const folded = trackers.filter(t => t.finished && t.task.state !== 'failed');
  return (
    <div className="jp-EnvMgr-tasks">
      {open.map(tracker => (
        <div className="jp-EnvMgr-taskItem" key={tracker.id}>
          <TaskView tracker={tracker} onCancel={onCancel} detailed={detailed} />
          {tracker.finished && (
            <button
              className="jp-EnvMgr-link jp-EnvMgr-dismiss"
              onClick={() => onDismiss(tracker)}
              title={trans.__('Hide this failed task')}
            >
              {trans.__('Dismiss')}
            </button>
          )}
        </div>
      ))}
      {folded.length > 0 && (
        <details className="jp-EnvMgr-finishedTasks">
          <summary>
            {trans._n('%1 finished task', '%1 finished tasks', folded.length)}
          </summary>
          {folded.map(tracker => (
            <TaskView key={tracker.id} tracker={tracker} onCancel={onCancel} />
          ))}
        </details>
      )}
    </div>
  );
}
