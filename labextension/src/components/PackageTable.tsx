/**
 * An env's package table: a filter, and per package its version, build, channel (short name,
 * the full URL on hover), whether the user asked for it (the spec on hover) or it came as a
 * dependency (which requested packages pull it in: on hover, and shown when expanded), a newer
 * version in the configured channels ("updatable → X.Y", "?" when unknown), size, and the
 * Update / Remove buttons. Every word through `trans`.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { EnvModel } from '../envmodel';
import { formatBytes } from '../progress';
import { IInstalledPackage } from '../types';
import { IViewActions } from './actions';

export interface IPackageTableProps {
  env: EnvModel;
  actions: IViewActions;
  disabled: boolean;
  reason?: string;
  trans: TranslationBundle;
}

/** Requested (the spec on hover) or a dependency (why, expandable). */
function Asked(props: {
  pkg: IInstalledPackage;
  trans: TranslationBundle;
}): JSX.Element {
  const { pkg, trans } = props;
  const needed = pkg.required_by.join(', ');
  if (pkg.requested) {
    const title = needed
      ? trans.__(
          'You asked for %1; also needed by %2',
          pkg.requested_spec ?? pkg.name,
          needed
        )
      : trans.__('You asked for %1', pkg.requested_spec ?? pkg.name);
    return (
      <span
        className="jp-EnvMgr-badge jp-EnvMgr-requested"
        title={title}
        data-insight="requested"
      >
        {trans.__('requested')}
      </span>
    );
  }
  if (!needed) {
    return (
      <span
        className="jp-EnvMgr-muted"
        title={trans.__('Not requested, and no requested package needs it')}
        data-insight="unneeded"
      >
        {trans.__('not needed')}
      </span>
    );
  }
  const why = trans._n(
    'Installed because %2 needs it',
    'Installed because %2 need it',
    pkg.required_by.length,
    needed
  );
  return (
    <details className="jp-EnvMgr-why" data-insight="dependency" title={why}>
      <summary className="jp-EnvMgr-muted">{trans.__('dependency')}</summary>
      <span className="jp-EnvMgr-whyText">
        {trans.__('needed by %1', needed)}
      </span>
    </details>
  );
}

/** "updatable → X.Y", "?" when a channel's index was not at hand, else nothing. */
function Update(props: {
  pkg: IInstalledPackage;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { pkg, trans } = props;
  if (pkg.updatable) {
    return (
      <span
        className="jp-EnvMgr-badge jp-EnvMgr-updatable"
        title={trans.__(
          '%1 %2 is in the configured channels',
          pkg.name,
          pkg.updatable
        )}
        data-insight="updatable"
      >
        {trans.__('updatable → %1', pkg.updatable)}
      </span>
    );
  }
  if (!pkg.updates_known) {
    return (
      <span
        className="jp-EnvMgr-muted"
        title={trans.__(
          "Unknown: a channel's cached index is missing or older than a day"
        )}
        data-insight="unknown"
      >
        ?
      </span>
    );
  }
  return null;
}

export function PackageTable(props: IPackageTableProps): JSX.Element {
  const { env, actions, trans } = props;
  const [filter, setFilter] = React.useState('');
  const packages = env.detail?.packages ?? [];
  const needle = filter.trim().toLowerCase();
  const shown = needle
    ? packages.filter(
        p =>
          p.name.toLowerCase().includes(needle) ||
          p.channel.toLowerCase().includes(needle)
      )
    : packages;
  const remove = async (pkg: IInstalledPackage) => {
    const ok = await actions.confirm(
      trans.__('Remove %1?', pkg.name),
      trans.__(
        'Remove %1 %2 from %3, and the packages that depend on it.',
        pkg.name,
        pkg.version,
        env.manager.envLabel(env.name)
      ),
      trans.__('Remove')
    );
    if (ok) {
      await env.remove([pkg.name]);
    }
  };
  return (
    <section className="jp-EnvMgr-section" aria-label={trans.__('Packages')}>
      <h3>
        {trans.__('Packages')}{' '}
        <span className="jp-EnvMgr-muted">({packages.length})</span>
      </h3>
      <input
        className="jp-EnvMgr-input"
        type="search"
        placeholder={trans.__('Filter packages')}
        aria-label={trans.__('Filter packages')}
        value={filter}
        onChange={e => setFilter(e.target.value)}
      />
      <table
        className="jp-EnvMgr-table"
        aria-label={trans.__('Installed packages')}
      >
        <thead>
          <tr>
            <th>{trans.__('Name')}</th>
            <th>{trans.__('Version')}</th>
            <th>{trans.__('Build')}</th>
            <th>{trans.__('Channel')}</th>
            <th>{trans.__('Asked for')}</th>
            <th>{trans.__('Update')}</th>
            <th>{trans.__('Size')}</th>
            <th>
              <span className="jp-EnvMgr-srOnly">{trans.__('Actions')}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {shown.map(pkg => (
            <tr key={pkg.name} data-package={pkg.name}>
              <td className="jp-EnvMgr-pkgName">{pkg.name}</td>
              <td>{pkg.version}</td>
              <td className="jp-EnvMgr-muted">{pkg.build}</td>
              <td
                className="jp-EnvMgr-muted"
                title={pkg.channel_url || pkg.channel}
                data-insight="channel"
              >
                {pkg.channel}
              </td>
              <td>
                <Asked pkg={pkg} trans={trans} />
              </td>
              <td className="jp-EnvMgr-nowrap">
                <Update pkg={pkg} trans={trans} />
              </td>
              <td className="jp-EnvMgr-nowrap">
                {pkg.size === null ? '' : formatBytes(pkg.size)}
              </td>
              <td className="jp-EnvMgr-actions">
                <button
                  className="jp-EnvMgr-button jp-mod-small"
                  disabled={props.disabled}
                  title={props.reason ?? trans.__('Update %1', pkg.name)}
                  aria-label={trans.__('Update %1', pkg.name)}
                  onClick={() => void env.update([pkg.name])}
                >
                  {trans.__('Update')}
                </button>
                <button
                  className="jp-EnvMgr-button jp-mod-small jp-mod-warn"
                  disabled={props.disabled}
                  title={props.reason ?? trans.__('Remove %1', pkg.name)}
                  aria-label={trans.__('Remove %1', pkg.name)}
                  onClick={() => void remove(pkg)}
                >
                  {trans.__('Remove')}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length === 0 && packages.length > 0 && (
        <div className="jp-EnvMgr-empty">
          {trans.__('No package matches “%1”.', filter)}
        </div>
      )}
    </section>
  );
}
