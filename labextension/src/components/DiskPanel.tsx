/**
 * Disk: a chart of each env's use (own vs shared bytes) and of the package cache, the
 * filesystems' free bytes and inodes, disk use by owner (folded; measured when opened), and
 * cleaning: a preview first (what goes, bytes and inodes freed, what is kept and why), then the
 * run.
 */
import * as React from 'react';

import { trans } from '../i18n';
import { EnvManagerModel, TaskTracker } from '../model';
import { formatBytes, formatCount } from '../progress';
import {
  CleanCategory,
  ICleanKept,
  IOwnerTree,
  IOwnerUsage,
  IUsageTree
} from '../types';
import { IViewActions } from './actions';
import { useSignals } from './hooks';
import { TaskView } from './Task';

export interface IDiskPanelProps {
  model: EnvManagerModel;
  actions: IViewActions;
}

const categories = (): { value: CleanCategory; label: string }[] => [
  {
    value: 'tarballs',
    label: trans.__('Downloaded archives (.conda, .tar.bz2)')
  },
  {
    value: 'packages',
    label: trans.__('Extracted packages no environment uses')
  },
  { value: 'index-cache', label: trans.__('Channel index cache') },
  { value: 'locks', label: trans.__('Stale lock files') }
];

function keptWords(kept: ICleanKept, model: EnvManagerModel): string {
  switch (kept.reason) {
    case 'in-use': {
      // The envs come as prefixes: their names where we know them.
      const names = kept.envs.map(
        prefix =>
          model.environments.find(e => e.prefix === prefix)?.name ?? prefix
      );
      return names.length
        ? trans.__('used by %1', names.join(', '))
        : trans.__('used by an environment');
    }
    case 'busy':
      return trans.__('in use by a running operation');
    case 'recent':
      return trans.__('written moments ago; kept to be safe');
    default:
      return kept.reason;
  }
}

function treeLabel(tree: IUsageTree): string {
  if (tree.kind === 'pkgs') {
    return trans.__('package cache (%1)', tree.path);
  }
  return tree.name ?? tree.path;
}

function UsageChart(props: { model: EnvManagerModel }): JSX.Element {
  const { model } = props;
  const usage = model.usage;
  if (model.usageError) {
    return (
      <div className="jp-EnvMgr-error" role="alert">
        {model.usageError}
      </div>
    );
  }
  if (!usage) {
    return <div className="jp-EnvMgr-empty">{trans.__('Measuring…')}</div>;
  }
  const max = Math.max(1, ...usage.trees.map(t => t.real_bytes));
  return (
    <>
      <table
        className="jp-EnvMgr-chart"
        aria-label={trans.__('Disk use per environment')}
      >
        <tbody>
          {usage.trees.map(tree => {
            const own = (tree.own_bytes / max) * 100;
            const shared = (tree.shared_bytes / max) * 100;
            return (
              <tr
                key={tree.path}
                data-tree={
                  tree.kind === 'pkgs' ? 'cache' : (tree.name ?? tree.path)
                }
              >
                <th
                  scope="row"
                  className="jp-EnvMgr-chartLabel"
                  title={tree.path}
                >
                  {treeLabel(tree)}
                </th>
                <td className="jp-EnvMgr-chartBars">
                  <div className="jp-EnvMgr-bar">
                    <div
                      className={`jp-EnvMgr-barOwn${tree.kind === 'pkgs' ? ' jp-mod-cache' : ''}`}
                      style={{ width: `${own}%` }}
                    />
                    <div
                      className="jp-EnvMgr-barShared"
                      style={{ width: `${shared}%` }}
                    />
                  </div>
                </td>
                <td className="jp-EnvMgr-chartText">
                  {trans.__(
                    '%1 own · %2 shared · %3 inodes',
                    formatBytes(tree.own_bytes),
                    formatBytes(tree.shared_bytes),
                    formatCount(tree.inodes)
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <div className="jp-EnvMgr-legend" aria-label={trans.__('Legend')}>
        <span className="jp-EnvMgr-legendItem" data-legend="own">
          <span className="jp-EnvMgr-swatch jp-EnvMgr-barOwn" />{' '}
          {trans.__('own (only this tree uses it)')}
        </span>{' '}
        <span className="jp-EnvMgr-legendItem" data-legend="cache">
          <span className="jp-EnvMgr-swatch jp-EnvMgr-barOwn jp-mod-cache" />{' '}
          {trans.__('package cache')}
        </span>{' '}
        <span className="jp-EnvMgr-legendItem" data-legend="shared">
          <span className="jp-EnvMgr-swatch jp-EnvMgr-barShared" />{' '}
          {trans.__(
            'shared (hard links with the cache or other envs, counted once)'
          )}
        </span>
      </div>
      <h3>{trans.__('Filesystems')}</h3>
      <table className="jp-EnvMgr-table" aria-label={trans.__('Filesystems')}>
        <thead>
          <tr>
            <th>{trans.__('Holds')}</th>
            <th>{trans.__('Free bytes')}</th>
            <th>{trans.__('Free inodes')}</th>
          </tr>
        </thead>
        <tbody>
          {usage.filesystems.map((fs, index) => (
            <tr key={`${fs.device ?? index}`}>
              <td>{fs.paths.join(', ')}</td>
              <td>
                {trans.__(
                  '%1 of %2',
                  formatBytes(fs.free_bytes),
                  formatBytes(fs.total_bytes)
                )}
                <Meter
                  free={fs.free_bytes}
                  total={fs.total_bytes}
                  name={trans.__('Bytes free')}
                />
              </td>
              <td>
                {trans.__(
                  '%1 of %2',
                  formatCount(fs.free_inodes),
                  formatCount(fs.total_inodes)
                )}
                <Meter
                  free={fs.free_inodes}
                  total={fs.total_inodes}
                  name={trans.__('Inodes free')}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {usage.warnings.map(w => (
        <div key={w} className="jp-EnvMgr-warning">
          {w}
        </div>
      ))}
    </>
  );
}

/** A filesystem's free share: the bar is as full as the free fraction, labelled "N% free". */
function Meter(props: {
  free: number | null;
  total: number | null;
  /** The meter's name ("Bytes free"). */
  name: string;
}): JSX.Element | null {
  if (!props.total || props.free === null) {
    return null;
  }
  const free = Math.max(0, Math.min(100, (props.free / props.total) * 100));
  const label = trans.__('%1% free', free.toFixed(0));
  return (
    <div className="jp-EnvMgr-meterRow">
      <div
        className="jp-EnvMgr-bar jp-mod-meter"
        role="meter"
        aria-label={props.name}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Number(free.toFixed(1))}
        aria-valuetext={label}
        title={label}
      >
        <div className="jp-EnvMgr-barFree" style={{ width: `${free}%` }} />
      </div>
      <span className="jp-EnvMgr-meterLabel">{label}</span>
    </div>
  );
}

/** The last part of a path. */
function baseName(path: string): string {
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts[parts.length - 1] ?? path;
}

function ownerTreeLabel(tree: IOwnerTree): string {
  return tree.kind === 'pkgs'
    ? trans.__('package cache (%1)', tree.path)
    : (tree.name ?? tree.path);
}

/** The report by owner: owners, what is yours, what clean would free in your own cache. */
function OwnerReport(props: { report: IOwnerUsage }): JSX.Element {
  const { report } = props;
  const owners = Object.entries(report.owners).sort(
    (a, b) => b[1].bytes - a[1].bytes
  );
  const yours = report.trees
    .filter(t => t.mine.bytes > 0 || t.mine.inodes > 0)
    .sort((a, b) => b.mine.bytes - a.mine.bytes);
  const untouched = report.trees.filter(
    t => t.kind === 'pkgs' && t.path !== report.own_cache
  );
  const unreadable = report.trees.reduce((n, t) => n + t.unreadable, 0);
  return (
    <>
      <table
        className="jp-EnvMgr-table"
        aria-label={trans.__('Disk use per owner')}
      >
        <thead>
          <tr>
            <th>{trans.__('Owner')}</th>
            <th>{trans.__('Bytes')}</th>
            <th>{trans.__('Inodes')}</th>
          </tr>
        </thead>
        <tbody>
          {owners.map(([name, share]) => (
            <tr key={name} data-owner={name}>
              <td>
                {name}
                {name === report.user && (
                  <>
                    {' '}
                    <span className="jp-EnvMgr-muted" data-you="">
                      {trans.__('(you)')}
                    </span>
                  </>
                )}
              </td>
              <td data-bytes={share.bytes}>{formatBytes(share.bytes)}</td>
              <td>{formatCount(share.inodes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {unreadable > 0 && (
        <div className="jp-EnvMgr-warning">
          {trans._n(
            '%1 folder or file could not be read and is not counted.',
            '%1 folders or files could not be read and are not counted.',
            unreadable
          )}
        </div>
      )}
      <h4>{trans.__('Yours')}</h4>
      {yours.length === 0 ? (
        <div className="jp-EnvMgr-empty">
          {trans.__('You own nothing in these environments and caches.')}
        </div>
      ) : (
        <table
          className="jp-EnvMgr-table"
          aria-label={trans.__('What you own per environment and cache')}
        >
          <thead>
            <tr>
              <th>{trans.__('Environment or cache')}</th>
              <th>{trans.__('Bytes')}</th>
              <th>{trans.__('Inodes')}</th>
            </tr>
          </thead>
          <tbody>
            {yours.map(tree => (
              <tr key={tree.path} data-tree={tree.path}>
                <td title={tree.path}>{ownerTreeLabel(tree)}</td>
                <td>{formatBytes(tree.mine.bytes)}</td>
                <td>{formatCount(tree.mine.inodes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {report.cache_entries.length > 0 && (
        <table
          className="jp-EnvMgr-table"
          aria-label={trans.__('Your biggest cache entries')}
        >
          <thead>
            <tr>
              <th>{trans.__('Cache entry')}</th>
              <th>{trans.__('Bytes')}</th>
              <th>{trans.__('Inodes')}</th>
            </tr>
          </thead>
          <tbody>
            {report.cache_entries.map(entry => (
              <tr key={entry.path}>
                <td title={entry.path}>{baseName(entry.path)}</td>
                <td>{formatBytes(entry.bytes)}</td>
                <td>{formatCount(entry.inodes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {report.more_cache_entries > 0 && (
        <div className="jp-EnvMgr-muted">
          {trans._n(
            'and %1 smaller entry',
            'and %1 smaller entries',
            report.more_cache_entries
          )}
        </div>
      )}
      <p className="jp-EnvMgr-planTotal" data-clean="">
        {report.clean
          ? trans._n(
              'clean would free %2 and %3 inodes (%1 item) in your cache, %4.',
              'clean would free %2 and %3 inodes (%1 items) in your cache, %4.',
              report.clean.items,
              formatBytes(report.clean.bytes),
              formatCount(report.clean.inodes),
              report.clean.pkgs_dir
            )
          : trans.__(
              'You own no package cache here: clean has nothing of yours to free.'
            )}
      </p>
      {untouched.length > 0 && (
        <p className="jp-EnvMgr-muted" data-untouched="">
          {trans._n(
            'clean never touches this cache (not yours to clean): %2',
            'clean never touches these caches (not yours to clean): %2',
            untouched.length,
            untouched.map(t => t.path).join(', ')
          )}
        </p>
      )}
    </>
  );
}

/** Disk use by owner: folded; the walk (every file of every env and cache) runs when opened. */
function ByOwnerSection(props: { model: EnvManagerModel }): JSX.Element {
  const { model } = props;
  const [open, setOpen] = React.useState(false);
  const report = model.usageByOwner;
  const loading = model.usageByOwnerLoading;
  const toggle = (e: React.SyntheticEvent<HTMLDetailsElement>) => {
    const opened = e.currentTarget.open;
    setOpen(opened);
    if (opened && !report && !loading) {
      void model.refreshUsageByOwner();
    }
  };
  return (
    <section
      className="jp-EnvMgr-section jp-EnvMgr-byOwner"
      aria-label={trans.__('By owner')}
    >
      <details open={open} onToggle={toggle}>
        <summary>
          <h3 style={{ display: 'inline' }}>{trans.__('By owner')}</h3>{' '}
          <span className="jp-EnvMgr-muted">
            {trans.__(
              'bytes and inodes each user holds in the environments and package caches, as quotas count them'
            )}
          </span>
        </summary>
        {loading && (
          <div role="status" aria-label={trans.__('Counting')}>
            <div className="jp-EnvMgr-empty">
              {trans.__(
                'Counting every file of every environment and cache by owner…'
              )}
            </div>
            <div className="jp-EnvMgr-progress">
              <div className="jp-EnvMgr-progressBar jp-mod-indeterminate" />
            </div>
          </div>
        )}
        {model.usageByOwnerError && !loading && (
          <div className="jp-EnvMgr-error" role="alert">
            {trans.__('Could not count by owner: %1', model.usageByOwnerError)}
          </div>
        )}
        {report && <OwnerReport report={report} />}
        {(report || model.usageByOwnerError) && (
          <div className="jp-EnvMgr-row">
            <button
              className="jp-EnvMgr-button"
              onClick={() => void model.refreshUsageByOwner()}
              disabled={loading}
            >
              {trans.__('Count again')}
            </button>
          </div>
        )}
      </details>
    </section>
  );
}

function CleanSection(props: IDiskPanelProps): JSX.Element {
  const { model, actions } = props;
  const [chosen, setChosen] = React.useState<CleanCategory[]>([
    'tarballs',
    'packages'
  ]);
  const [tracker, setTracker] = React.useState<TaskTracker | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const plan = model.cleanPlan;
  const toggle = (value: CleanCategory) =>
    setChosen(
      chosen.includes(value)
        ? chosen.filter(c => c !== value)
        : [...chosen, value]
    );
  const preview = () => {
    setError(null);
    void model.previewClean(chosen);
  };
  const run = async () => {
    const ok = await actions.confirm(
      trans.__('Clean the package cache?'),
      trans.__(
        'Remove what the preview lists: %1 and %2 inodes.',
        formatBytes(plan?.bytes),
        formatCount(plan?.inodes)
      ),
      trans.__('Clean')
    );
    if (!ok) {
      return;
    }
    try {
      const started = await model.clean(chosen);
      setTracker(started);
      void started.done.then(() => {
        void model.refreshUsage();
        void model.previewClean(chosen);
      });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <section className="jp-EnvMgr-section" aria-label={trans.__('Clean')}>
      <h3>{trans.__('Clean the package cache')}</h3>
      <fieldset className="jp-EnvMgr-fieldset">
        <legend>{trans.__('What to clean')}</legend>
        {categories().map(c => (
          <label key={c.value} className="jp-EnvMgr-check">
            <input
              type="checkbox"
              checked={chosen.includes(c.value)}
              onChange={() => toggle(c.value)}
            />{' '}
            {c.label}
          </label>
        ))}
      </fieldset>
      <div className="jp-EnvMgr-row">
        <button
          className="jp-EnvMgr-button"
          onClick={preview}
          disabled={chosen.length === 0}
        >
          {trans.__('Preview')}
        </button>
        <button
          className="jp-EnvMgr-button jp-mod-warn"
          onClick={() => void run()}
          disabled={
            !plan ||
            plan.items.length === 0 ||
            (tracker !== null && !tracker.finished)
          }
          title={plan ? undefined : trans.__('Preview first')}
        >
          {trans.__('Clean now')}
        </button>
      </div>
      {model.cleanPlanError && (
        <div className="jp-EnvMgr-error" role="alert">
          {model.cleanPlanError}
        </div>
      )}
      {error && (
        <div className="jp-EnvMgr-error" role="alert">
          {error}
        </div>
      )}
      {tracker && (
        <TaskView tracker={tracker} onCancel={actions.cancel} detailed />
      )}
      {plan && (
        <div className="jp-EnvMgr-plan" aria-label={trans.__('Clean preview')}>
          <p className="jp-EnvMgr-planTotal">
            {trans.__(
              'Frees %1 and %2 inodes (%3 items).',
              formatBytes(plan.bytes),
              formatCount(plan.inodes),
              plan.items.length
            )}
          </p>
          {plan.items.length > 0 && (
            <table
              className="jp-EnvMgr-table"
              aria-label={trans.__('What goes')}
            >
              <thead>
                <tr>
                  <th>{trans.__('What goes')}</th>
                  <th>{trans.__('Kind')}</th>
                  <th>{trans.__('Bytes')}</th>
                  <th>{trans.__('Inodes')}</th>
                </tr>
              </thead>
              <tbody>
                {plan.items.map(item => (
                  <tr key={`${item.category}:${item.name}:${item.paths[0]}`}>
                    <td title={item.paths.join('\n')}>{item.name}</td>
                    <td>{item.category}</td>
                    <td>{formatBytes(item.bytes)}</td>
                    <td>{formatCount(item.inodes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {plan.kept.length > 0 && (
            <table
              className="jp-EnvMgr-table"
              aria-label={trans.__('What is kept')}
            >
              <thead>
                <tr>
                  <th>{trans.__('Kept')}</th>
                  <th>{trans.__('Why')}</th>
                </tr>
              </thead>
              <tbody>
                {plan.kept.map(kept => (
                  <tr key={`${kept.category}:${kept.path}`}>
                    <td title={kept.path}>{kept.name}</td>
                    <td>{keptWords(kept, model)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </section>
  );
}

export function DiskPanel(props: IDiskPanelProps): JSX.Element {
  const { model } = props;
  useSignals(model.usageChanged, model.cleanPlanChanged, model.tasksChanged);
  return (
    <div className="jp-EnvMgr-diskPanel">
      <header className="jp-EnvMgr-envHeader">
        <h2>{trans.__('Disk')}</h2>
        <button
          className="jp-EnvMgr-button"
          onClick={() => void model.refreshUsage()}
        >
          {trans.__('Measure again')}
        </button>
      </header>
      <section className="jp-EnvMgr-section" aria-label={trans.__('Disk use')}>
        <h3>{trans.__('Disk use')}</h3>
        <UsageChart model={model} />
      </section>
      <ByOwnerSection model={model} />
      <CleanSection {...props} />
    </div>
  );
}
