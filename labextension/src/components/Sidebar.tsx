/**
 * The "Environments" sidebar: every env with its size (own vs shared bytes, inodes), a
 * read-only badge and whether it has a kernel; the tasks below.
 */
import { refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { trans } from '../i18n';
import { EnvManagerModel } from '../model';
import { formatBytes, formatCount } from '../progress';
import { IEnvironment } from '../types';
import { IEnvActions, readOnlyReason } from './actions';
import { useSignals } from './hooks';
import { TaskList } from './Task';

export interface ISidebarProps {
  model: EnvManagerModel;
  actions: IEnvActions;
}

function EnvRow(props: ISidebarProps & { env: IEnvironment }): JSX.Element {
  const { model, actions, env } = props;
  // Every listed env is opened by its key: its name, or (outside the envs dirs) a key the
  // server gives, shown by its folder's name with its location beneath.
  const key = env.key;
  const label = model.envLabel(key);
  const location = model.envLocation(key);
  const kernels = model.kernelsOf(key);
  const size = model.size(env);
  const busy = model.runningOn(key).length > 0;
  return (
    <li className="jp-EnvMgr-envRow" data-env={key}>
      <button
        className="jp-EnvMgr-envName"
        onClick={() => actions.openEnv(key)}
        title={trans.__('Open %1 (%2)', label, env.prefix)}
      >
        {label}
        {env.is_root && (
          <span className="jp-EnvMgr-muted"> {trans.__('(root)')}</span>
        )}
      </button>
      <span className="jp-EnvMgr-badges">
        {busy && (
          <span
            className="jp-EnvMgr-badge jp-EnvMgr-state-running"
            title={trans.__('A task is running')}
          >
            {trans.__('busy')}
          </span>
        )}
        {env.read_only && (
          <span
            className="jp-EnvMgr-badge jp-EnvMgr-readonly"
            title={`${env.read_only_reason ?? ''} ${readOnlyReason()}`.trim()}
          >
            {trans.__('read-only')}
          </span>
        )}
        {kernels.length > 0 ? (
          <span
            className="jp-EnvMgr-badge jp-EnvMgr-kernel"
            title={kernels.map(k => k.display_name).join('\n')}
          >
            {trans.__('kernel')}
          </span>
        ) : (
          <span
            className="jp-EnvMgr-badge jp-EnvMgr-nokernel"
            title={trans.__('No ipykernel or kernelspec')}
          >
            {trans.__('no kernel')}
          </span>
        )}
      </span>
      {location && (
        <div
          className="jp-EnvMgr-envLocation jp-EnvMgr-muted"
          title={env.prefix}
        >
          {trans.__('in %1', location)}
        </div>
      )}
      {size && (
        <div
          className="jp-EnvMgr-envSize"
          title={trans.__(
            'Own: bytes only this env uses. Shared: hard links shared with the package cache or other envs. Inodes: files and folders (quotas count them too).'
          )}
        >
          {trans.__(
            '%1 own · %2 shared · %3 inodes',
            formatBytes(size.own_bytes),
            formatBytes(size.shared_bytes),
            formatCount(size.inodes)
          )}
        </div>
      )}
    </li>
  );
}

export function Sidebar(props: ISidebarProps): JSX.Element {
  const { model, actions } = props;
  useSignals(model.envsChanged, model.kernelsChanged, model.tasksChanged);
  const tasks = model.tasks;
  const running = tasks.filter(t => !t.finished);
  const finished = tasks.filter(t => t.finished).slice(0, 10);
  return (
    <div className="jp-EnvMgr-sidebar">
      <div
        className="jp-EnvMgr-toolbar"
        role="toolbar"
        aria-label={trans.__('Environments')}
      >
        <button
          className="jp-EnvMgr-button jp-mod-accept"
          onClick={() => actions.create()}
        >
          {trans.__('New environment')}
        </button>
        <button
          className="jp-EnvMgr-button"
          onClick={() => void model.refreshSizes()}
          disabled={model.sizesLoading}
          title={trans.__(
            "Measure each environment's disk use again (shown beside each name; it is also measured after each change)"
          )}
        >
          {model.sizesLoading
            ? trans.__('Measuring…')
            : trans.__('Measure sizes')}
        </button>
        <button
          className="jp-EnvMgr-button"
          onClick={() => actions.openDisk()}
          title={trans.__(
            'Open the Disk tab: disk use of every environment and the package cache, free space, and cleaning'
          )}
        >
          {trans.__('Disk use…')}
        </button>
        <button
          className="jp-EnvMgr-button jp-EnvMgr-iconButton"
          onClick={() => void model.refresh().catch(() => undefined)}
          title={trans.__('Read the environments again')}
          aria-label={trans.__('Refresh')}
        >
          <refreshIcon.react tag="span" />
        </button>
      </div>
      <h3 className="jp-EnvMgr-heading">{trans.__('Environments')}</h3>
      {model.listError && (
        <div className="jp-EnvMgr-error" role="alert">
          {model.listError}
        </div>
      )}
      {!model.loaded && !model.listError && (
        <div className="jp-EnvMgr-empty">{trans.__('Loading…')}</div>
      )}
      <ul className="jp-EnvMgr-envList" aria-label={trans.__('Environments')}>
        {model.environments.map(env => (
          <EnvRow key={env.key} model={model} actions={actions} env={env} />
        ))}
      </ul>
      {model.loaded && model.environments.length === 0 && (
        <div className="jp-EnvMgr-empty">
          {trans.__('No environments yet.')}
        </div>
      )}
      <h3 className="jp-EnvMgr-heading">
        {trans.__('Tasks')}{' '}
        {finished.length > 0 && (
          <button
            className="jp-EnvMgr-link"
            onClick={() => model.clearFinished()}
            title={trans.__('Hide every finished task')}
          >
            {trans.__('clear finished')}
          </button>
        )}
      </h3>
      <div aria-label={trans.__('Tasks')}>
        <TaskList
          trackers={[...running, ...finished]}
          onCancel={actions.cancel}
          onDismiss={tracker => model.dismissTask(tracker)}
          empty={trans.__('Nothing running.')}
        />
      </div>
    </div>
  );
}
